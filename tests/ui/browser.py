"""A real web server (uvicorn subprocess) on the test database and a headless Debian Chromium driven
by Playwright, signed in by copying a Django session cookie (no login page needed)."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request

from django.conf import settings
from django.test import Client

from tests.conftest import BASE_DIR, _database_url

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class WebServer:
    """``uvicorn config.asgi:application`` on a free port against the test database and Redis."""

    def __init__(self, database_url: str | None = None, redis_url: str | None = None):
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        env = dict(
            os.environ,
            DATABASE_URL=database_url or _database_url(),
            REDIS_URL=redis_url or settings.REDIS_URL,
            TESTING="1",
        )
        self.log_path = BASE_DIR / "var" / f"test-web-{os.getpid()}.log"
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "config.asgi:application",
                "--host",
                "127.0.0.1",
                "--port",
                str(self.port),
                "--no-access-log",
            ],
            cwd=BASE_DIR,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(self.base + "/healthz", timeout=2):
                    return
            except OSError:
                if self.proc.poll() is not None:
                    break
                time.sleep(0.2)
        self.stop()
        raise RuntimeError("web server did not start:\n" + self.log_path.read_text()[-3000:])

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, 15)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, 9)
                self.proc.wait()
        self.log.close()


def launch_chromium(playwright):
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)


def signed_in_context(browser, base: str, user, **options):
    """A browser context carrying a session of ``user`` (made with Django's test client) and the
    ``tz`` cookie of its time zone already set, so ``tz.js`` has no first-visit reload to do."""
    client = Client()
    client.force_login(user)
    context = browser.new_context(**options)
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    context.add_cookies(
        [
            {"name": settings.SESSION_COOKIE_NAME, "value": session, "url": base},
            {"name": "tz", "value": options.get("timezone_id", "UTC"), "url": base},
        ]
    )
    return context
