"""Processes the operations tests run for real: a private redis-server and a uvicorn web server."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest

from config.devstack import _free_port, redis_answers
from tests.conftest import BASE_DIR, _database_url, wait_until

REDIS_SERVER = "/usr/bin/redis-server"


class RedisServer:
    """A redis-server of our own on a free port (never the machine's shared one), without persistence."""

    def __init__(self, tmp_path):
        self.port = _free_port()
        self.dir = tmp_path
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen | None = None

    def start(self) -> RedisServer:
        self.proc = subprocess.Popen(
            [
                REDIS_SERVER,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.dir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        assert wait_until(lambda: redis_answers(self.url, 0.2), 10), "redis-server did not start"
        return self

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(timeout=10)


class WebServer:
    """``uvicorn config.asgi:application`` on a free port, on the test database and the given Redis."""

    def __init__(self, redis_url: str, **env):
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.log_path = BASE_DIR / "var" / f"test-web-{os.getpid()}.log"
        self.log = open(self.log_path, "w")
        full_env = dict(os.environ, DATABASE_URL=_database_url(), REDIS_URL=redis_url, TESTING="1", **env)
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
            env=full_env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        if not wait_until(lambda: self.get("/healthz")[0] == 200 or self.proc.poll() is not None, 60, 0.2):
            self.stop()
            raise RuntimeError(f"web did not start:\n{self.log_path.read_text()[-3000:]}")

    def get(self, path: str) -> tuple[int, bytes]:
        try:
            with urllib.request.urlopen(self.base + path, timeout=15) as response:
                return response.status, response.read()
        except urllib.error.HTTPError as exc:
            return exc.code, exc.read()
        except OSError:
            return 0, b""

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.log.close()


@pytest.fixture
def private_redis(tmp_path):
    server = RedisServer(tmp_path).start()
    yield server
    server.stop()


def poll(predicate, timeout: float, every: float = 0.3):
    """Like ``wait_until`` but keeps the last value for the assertion message."""
    end = time.monotonic() + timeout
    value = predicate()
    while not value[0] and time.monotonic() < end:
        time.sleep(every)
        value = predicate()
    return value
