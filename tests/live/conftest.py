"""Fixtures for live updates: synchronous websocket clients of the ASGI app, and a real web server + browser.

- ``live_socket(user_or_query, headers=...)``: a :class:`LiveSocket` speaking to
  ``config.asgi.application`` through Channels' ``WebsocketCommunicator`` on the real Redis layer.
  Its event loop runs in a thread of its own, so tests stay plain synchronous code and can use the
  ORM and the API client between socket calls (pytest-asyncio is not needed).
- ``web_server`` (tests/conftest.py): ``uvicorn config.asgi:application`` on a free port against the
  test database and Redis (as ``tests.conftest.Process`` runs Celery), for browser and black-box tests.
- ``browser_page``: a Playwright page in Debian's Chromium (``/usr/bin/chromium``), headless.
- ``login_browser(page, base_url, user)``: a signed-in session cookie set in the browser context.

Reusable by the pages' browser tests: import them from ``tests.live.conftest`` or move them up.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
import urllib.request

import pytest
from channels.db import database_sync_to_async
from channels.testing.websocket import WebsocketCommunicator
from django.conf import settings
from django.db import connections

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def access_token(user) -> str:
    from rest_framework_simplejwt.tokens import RefreshToken

    return str(RefreshToken.for_user(user).access_token)


def session_cookie(user) -> str:
    """A session cookie value for ``user``, made the way Django's login does (Client.force_login)."""
    from django.test import Client

    client = Client()
    client.force_login(user)
    return client.cookies[settings.SESSION_COOKIE_NAME].value


_loop: dict[str, asyncio.AbstractEventLoop] = {}


def sockets_loop() -> asyncio.AbstractEventLoop:
    """The one event loop every test socket runs on: channels' layer receives from one loop only."""
    if "loop" not in _loop:
        loop = _loop["loop"] = asyncio.new_event_loop()
        threading.Thread(target=loop.run_forever, name="live-sockets", daemon=True).start()
    return _loop["loop"]


class LiveSocket:
    """One websocket to ``/ws/jobs/`` driven synchronously. Timeouts are seconds."""

    def __init__(self, path: str, headers: list[tuple[bytes, bytes]] | None = None):
        from config.asgi import application

        self.loop = sockets_loop()
        self.comm = WebsocketCommunicator(application, path, headers=headers or [])
        self.accepted, _ = self._run(self.comm.connect(timeout=10), 15)
        self.closed = False

    def _run(self, coro, timeout: float):
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def send(self, message: dict) -> None:
        self._run(self.comm.send_json_to(message), 5)

    def output(self, timeout: float = 10) -> dict:
        """The next raw ASGI message the app sent (``websocket.send`` or ``websocket.close``)."""
        return self._run(self.comm.receive_output(timeout), timeout + 5)

    def receive(self, timeout: float = 10) -> dict:
        """The next JSON message, skipping heartbeats."""
        while True:
            message = self._run(self.comm.receive_json_from(timeout), timeout + 5)
            if message.get("event") != "ping":
                return message

    def receive_until(self, predicate, timeout: float = 30) -> list[dict]:
        """Every message up to and including the first for which ``predicate`` is true."""
        end = time.monotonic() + timeout
        seen = []
        while True:
            seen.append(self.receive(max(0.1, end - time.monotonic())))
            if predicate(seen[-1]):
                return seen

    def nothing(self, timeout: float = 0.5) -> bool:
        """True if no message arrives within ``timeout``."""
        return self._run(self.comm.receive_nothing(timeout), timeout + 5)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            try:
                self._run(self.comm.disconnect(), 10)
            except Exception:  # already closed by the server
                pass
            # The consumer's ORM calls ran in asgiref's sync thread: close its connections so the
            # test database can be flushed and dropped.
            self._run(database_sync_to_async(connections.close_all)(), 10)


@pytest.fixture
def live_socket():
    """``live_socket(user=None, query="", headers=None)`` → an open :class:`LiveSocket`, closed at teardown.

    With ``user`` the socket authenticates with that user's access JWT (``?token=``).
    """
    sockets: list[LiveSocket] = []

    def open_socket(user=None, query: str = "", headers=None) -> LiveSocket:
        if user is not None:
            query = f"?token={access_token(user)}"
        sock = LiveSocket("/ws/jobs/" + query, headers)
        sockets.append(sock)
        return sock

    yield open_socket
    for sock in sockets:
        sock.close()


@pytest.fixture
def browser_page(monkeypatch):
    """A fresh page of a headless Chromium (Debian's package, driven by Playwright's sync API)."""
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop running in this thread, which makes Django refuse
    # ORM calls (tokens, sessions) from the test body; nothing async touches the ORM here (Django
    # documents the variable for such environments).
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        context = browser.new_context()
        page = context.new_page()
        yield page
        context.close()
        browser.close()
        # ORM calls made while Playwright ran (tokens, sessions) opened a connection of their own
        # context; close it here, in that context, or the test database cannot be dropped.
        connections.close_all()


def login_browser(page, base_url: str, user) -> None:
    """Sign ``page``'s browser context in as ``user`` with a real session cookie for ``base_url``."""
    page.context.add_cookies(
        [{"name": settings.SESSION_COOKIE_NAME, "value": session_cookie(user), "url": base_url}]
    )


def api_call(base_url: str, method: str, path: str, user, body: dict | None = None) -> tuple[int, dict]:
    """One HTTP call to a running server as ``user`` (access JWT); returns ``(status, JSON body)``."""
    request = urllib.request.Request(
        base_url + path,
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"Bearer {access_token(user)}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, json.loads(response.read())
