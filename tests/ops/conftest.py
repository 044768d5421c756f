"""Processes the operations tests run for real: a private redis-server and a uvicorn web server."""

from __future__ import annotations

import subprocess
import time

import pytest

from config.devstack import _free_port, redis_answers
from tests.conftest import wait_until

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
