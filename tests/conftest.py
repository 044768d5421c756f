"""Shared fixtures: the cast of users, an API client, real Redis, and real worker / beat processes.

Nothing here mocks the broker or the database: end-to-end tests start `celery worker` and
`celery beat` as separate processes against the same test database and Redis.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.db import connection
from rest_framework.test import APIClient

from config.devstack import _free_port

BASE_DIR = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _clean_redis():
    """Each test starts with an empty Redis database (the suite's own, never `make run`'s), and with
    empty caches of active webhooks and queue limits: the tables are emptied between tests without model
    signals."""
    from jobs.queue_control import forget_cached_limits
    from webhooks.services import _invalidate

    client = redis.Redis.from_url(settings.REDIS_URL)
    client.flushdb()
    _invalidate()
    forget_cached_limits()  # the queues' rate limits, cached per process (their rows go with each test)
    yield
    client.flushdb()
    _invalidate()
    forget_cached_limits()


def make_user(django_user_model, username: str, **extra):
    return django_user_model.objects.create_user(
        username, f"{username}@example.test", "S3cure-pass-" + username, **extra
    )


@pytest.fixture
def owner(django_user_model):
    return make_user(django_user_model, "owner")


@pytest.fixture
def other_user(django_user_model):
    return make_user(django_user_model, "other")


@pytest.fixture
def admin_user(django_user_model):
    return django_user_model.objects.create_superuser("admin", "admin@example.test", "S3cure-pass-admin")


def api_for(user) -> APIClient:
    from rest_framework_simplejwt.tokens import RefreshToken

    client = APIClient()
    if user is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {RefreshToken.for_user(user).access_token}")
    return client


@pytest.fixture
def api(owner):
    return api_for(owner)


@pytest.fixture
def other_api(other_user):
    return api_for(other_user)


def _database_url() -> str:
    s = connection.settings_dict
    if s["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{s['NAME']}"
    auth = s["USER"] + (f":{s['PASSWORD']}" if s.get("PASSWORD") else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


class Process:
    """A real Celery process (worker or beat) on the test database; stopped with SIGTERM, or killed."""

    def __init__(self, args: list[str], name: str, extra_env: dict | None = None):
        env = dict(os.environ, DATABASE_URL=_database_url(), REDIS_URL=settings.REDIS_URL, TESTING="1")
        env.update(extra_env or {})
        self.log_path = BASE_DIR / "var" / f"test-{name}-{os.getpid()}.log"
        self.log = open(self.log_path, "w")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "config", *args],
            cwd=BASE_DIR,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def stop(self, sig=signal.SIGTERM, timeout: float = 15) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)
            try:
                self.proc.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.log.close()

    def kill(self) -> None:
        self.stop(signal.SIGKILL)

    def output(self) -> str:
        self.log.flush()
        return self.log_path.read_text()


def wait_until(predicate, timeout: float, every: float = 0.1):
    """Poll ``predicate`` until it is truthy or ``timeout`` seconds pass; returns its last value."""
    end = time.monotonic() + timeout
    value = predicate()
    while not value and time.monotonic() < end:
        time.sleep(every)
        value = predicate()
    return value


def beat_and_worker_caught_up(owner, *, fires: int = 2, timeout: float = 60) -> bool:
    """The event to wait for instead of "sleep, then check that nothing more happened".

    A sentinel schedule created now (every second, handler ``demo.progress``) has ``fires`` completed
    jobs. Beat dispatches fires in order and the worker takes the ``schedules`` and ``jobs`` queues in
    order, so by then every fire beat sent before this call has become a job (or was dropped). The
    sentinel is deleted again; its jobs stay (handler ``demo.progress``, no schedule).
    """
    from jobs.models import Job
    from scheduling import services

    sentinel = services.schedule_create(
        owner=owner,
        name="demo.progress",
        data={"steps": 1, "delayMs": 0},
        schedule={"repeat": {"every": 1000}},
    )
    try:
        return wait_until(
            lambda: Job.objects.filter(schedule=sentinel, state="completed").count() >= fires, timeout, 0.2
        )
    finally:
        services.schedule_delete(schedule=sentinel)


def _ready(proc: Process, marker: str, timeout: float = 30) -> Process:
    if not wait_until(lambda: marker in proc.output() or proc.proc.poll() is not None, timeout, 0.2) or (
        proc.proc.poll() is not None
    ):
        out = proc.output()
        proc.stop()
        raise RuntimeError(f"celery process did not start:\n{out[-3000:]}")
    return proc


def start_worker(
    queues: str = "jobs.*,schedules,webhooks", concurrency: int = 2, name: str = "worker", **env
):
    """A Celery worker on ``queues`` (``jobs.*``: every named job queue; ``jobs.<name>``: one of them)."""
    proc = Process(
        [
            "worker",
            "-Q",
            queues,
            "-c",
            str(concurrency),
            "-n",
            f"{name}-{os.getpid()}@%h",
            "--loglevel",
            "INFO",
            "--without-gossip",
            "--without-mingle",
        ],
        name,
        env,
    )
    return _ready(proc, "ready.")


def start_beat(name: str = "beat", **env):
    proc = Process(
        ["beat", "--loglevel", "INFO", "--pidfile=", "-s", str(BASE_DIR / "var" / f"{name}.db")], name, env
    )
    return _ready(proc, "beat: Starting")


@pytest.fixture
def worker(transactional_db):
    proc = start_worker()
    yield proc
    proc.stop()


@pytest.fixture
def beat(transactional_db):
    proc = start_beat()
    yield proc
    proc.stop()


class WebServer:
    """``uvicorn config.asgi:application`` on a free port, on the test database (or ``database_url``)
    and the suite's Redis (or ``redis_url``); ``env`` adds settings. ``base`` is its URL."""

    def __init__(self, redis_url: str | None = None, database_url: str | None = None, **env):
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        full_env = dict(
            os.environ,
            DATABASE_URL=database_url or _database_url(),
            REDIS_URL=redis_url or settings.REDIS_URL,
            TESTING="1",
            **env,
        )
        self.log_path = BASE_DIR / "var" / f"test-web-{os.getpid()}-{self.port}.log"
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
                "--no-proxy-headers",  # as the Procfile: throttles see the socket's address
            ],
            cwd=BASE_DIR,
            env=full_env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        if not wait_until(
            lambda: self.get("/healthz")[0] == 200 or self.proc.poll() is not None, 60, 0.2
        ) or (self.proc.poll() is not None):
            out = self.output()
            self.stop()
            raise RuntimeError(f"uvicorn did not start:\n{out[-3000:]}")

    def get(self, path: str) -> tuple[int, bytes]:
        """``(status, body)`` of a GET; status 0 when nothing answers."""
        try:
            with urllib.request.urlopen(self.base + path, timeout=15) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()
        except OSError:
            return 0, b""

    def output(self) -> str:
        self.log.flush()
        return self.log_path.read_text()

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        if not self.log.closed:
            self.log.close()


@contextlib.contextmanager
def web_and_worker(web_env: dict, **worker_kwargs):
    """``(web, worker)``: a :class:`WebServer` with ``web_env`` and a worker (:func:`start_worker`
    with ``worker_kwargs``), both stopped when the block ends, also when the worker fails to start."""
    web = WebServer(**web_env)
    try:
        worker = start_worker(**worker_kwargs)
    except Exception:
        web.stop()
        raise
    try:
        yield web, worker
    finally:
        worker.stop()
        web.stop()


@pytest.fixture
def web_server(transactional_db):
    """A :class:`WebServer` on the test database for the test, stopped after it."""
    server = WebServer()
    yield server
    server.stop()
