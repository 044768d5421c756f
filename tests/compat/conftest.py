"""Fixtures of the compatibility tests (issue 15): a real uvicorn server and worker for Socket.IO, and
the handlers the original's clients need (``test.*`` from the job tests)."""

from __future__ import annotations

import pytest

from tests.conftest import WebServer, web_and_worker
from tests.jobs import handlers_for_tests  # noqa: F401  (registers test.* handlers in this process)
from tests.live.conftest import browser_page  # noqa: F401  (Playwright page in Debian's Chromium)

HANDLERS_ENV = {"JOB_HANDLER_MODULES": "tests.jobs.handlers_for_tests"}


@pytest.fixture(scope="module")
def live_stack(django_db_setup):
    """``(web, worker)``: uvicorn serving ``config.asgi`` (Socket.IO included) and a Celery worker, both
    on the test database and Redis, shared by a module's tests (each test still takes
    ``transactional_db``); stopped afterwards, also on failure."""
    # python-socketio's polling client waits at disconnect until the server drops its pending long-poll,
    # which engine.io does after ping interval + timeout: short ones keep these tests quick.
    web_env = {**HANDLERS_ENV, "SOCKETIO_PING_INTERVAL_S": "2", "SOCKETIO_PING_TIMEOUT_S": "3"}
    with web_and_worker(web_env, **HANDLERS_ENV) as stack:
        yield stack


@pytest.fixture
def web_server(transactional_db):
    """uvicorn serving ``config.asgi`` on the test database (no worker)."""
    web = WebServer(**HANDLERS_ENV)
    try:
        yield web
    finally:
        web.stop()
