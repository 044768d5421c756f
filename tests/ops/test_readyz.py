"""/readyz with real processes: a web server, a worker and beat, all on a redis-server of our own
that the test stops and starts again (the machine's shared Redis is never touched)."""

from __future__ import annotations

import json
import os
import socket

import pytest

from tests.conftest import WebServer, start_beat, start_worker

from .conftest import poll

pytestmark = pytest.mark.e2e


def _readyz(web: WebServer):
    status, body = web.get("/readyz")
    return status, json.loads(body or b"{}")


def test_readyz_follows_redis_going_away_and_coming_back(transactional_db, private_redis):
    web = WebServer(private_redis.url, READYZ_CACHE_S="0.5", READYZ_WORKER_WAIT_S="2")
    worker = start_worker(REDIS_URL=private_redis.url, name="ready-worker")
    beat = start_beat(REDIS_URL=private_redis.url, name="ready-beat")
    try:
        (ok, (status, body)) = poll(lambda: ((r := _readyz(web))[0] == 200, r), 60)
        assert (status, body["status"]) == (200, "ok"), body
        assert {name: check["status"] for name, check in body["checks"].items()} == {
            "database": "ok",
            "redis": "ok",
            "workers": "ok",
            "beat": "ok",
        }
        assert body["checks"]["workers"] == {
            "status": "ok",
            "workers": [f"ready-worker-{os.getpid()}@{socket.gethostname()}"],
        }
        assert body["checks"]["beat"]["leader"].startswith(f"{socket.gethostname()}:")

        private_redis.stop()
        (ok, (status, body)) = poll(lambda: ((r := _readyz(web))[0] == 503, r), 30)
        assert status == 503, body
        assert body["status"] == "fail"
        assert body["checks"]["database"] == {"status": "ok", "vendor": body["checks"]["database"]["vendor"]}
        assert body["checks"]["redis"]["status"] == "fail"
        assert body["checks"]["workers"] == {"status": "fail", "error": "redis unreachable"}
        assert body["checks"]["beat"] == {"status": "fail", "error": "redis unreachable"}

        private_redis.start()
        (ok, (status, body)) = poll(lambda: ((r := _readyz(web))[0] == 200, r), 90)
        assert (status, body["status"]) == (200, "ok"), body
    finally:
        beat.stop()
        worker.stop()
        web.stop()
