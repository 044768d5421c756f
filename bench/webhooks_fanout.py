"""Webhook costs, printed as figures (docs/benchmarks.md, "Webhooks").

    REDIS_URL=redis://127.0.0.1:6379/<N> .venv/bin/python bench/webhooks_fanout.py

Uses a fresh SQLite file under var/ and the given Redis database (keys are removed afterwards;
task messages go to that database's queues and are flushed at the end: do not point it at a
Redis a running server uses). Measures, in this process:
1. fan-out cost per job event for a user without webhooks (the common case: one indexed query);
2. per progress event with a progress webhook (coalesced: a Redis pipeline, no delivery row);
3. per completed event with one completed webhook (a Delivery row + a task message);
4. one signed delivery attempt to a loopback receiver (claim, attempt row, sign, POST, record).
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

BASE = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE))
db_file = Path(tempfile.mkdtemp(dir=BASE / "var" if (BASE / "var").exists() else None)) / "bench.sqlite3"
os.environ.update(DATABASE_URL=f"sqlite:///{db_file}", TESTING="1", ALLOW_PRIVATE_NETWORK_TARGETS="1")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

import redis  # noqa: E402
from django.conf import settings  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.utils import timezone  # noqa: E402

from jobs.models import Job  # noqa: E402
from jobs.realtime import job_event_message  # noqa: E402
from webhooks import services  # noqa: E402
from webhooks.models import Delivery, Webhook  # noqa: E402


class Ok(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


def per_event_us(owner_id: int, messages: list[dict]) -> float:
    started = time.perf_counter()
    for message in messages:
        services.webhook_fan_out(owner_id=owner_id, message=message)
    return (time.perf_counter() - started) / len(messages) * 1e6


def main() -> None:
    call_command("migrate", verbosity=0)
    users = get_user_model()
    quiet = users.objects.create_user("quiet", password="x")
    busy = users.objects.create_user("busy", password="x")
    job_q = Job.objects.create(owner=quiet, name="echo")
    job_b = Job.objects.create(owner=busy, name="echo")
    n = 2000
    progress_q = [job_event_message(job_q, "progress", progress=i % 100) for i in range(n)]
    print(f"fan-out, user without webhooks: {per_event_us(quiet.pk, progress_q):.0f} us/event ({n} events)")

    server = ThreadingHTTPServer(("127.0.0.1", 0), Ok)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    hook_p = Webhook.objects.create(
        owner=busy, url=url, event_type="progress", secret="whsec_" + "A" * 43 + "="
    )
    Webhook.objects.create(owner=busy, url=url, event_type="completed", secret=hook_p.secret)
    progress_b = [job_event_message(job_b, "progress", progress=i % 100) for i in range(n)]
    cost = per_event_us(busy.pk, progress_b)
    print(
        f"fan-out, progress webhook (coalesced): {cost:.0f} us/event, "
        f"{Delivery.objects.count()} delivery rows for {n} events before the window's flush"
    )
    done = [job_event_message(job_b, "completed", result={"i": i}) for i in range(500)]
    print(
        f"fan-out, completed webhook: {per_event_us(busy.pk, done):.0f} us/event "
        "(a Delivery row + a task message)"
    )

    ids = list(Delivery.objects.filter(event_type="completed").values_list("pk", flat=True))
    Delivery.objects.filter(pk__in=ids).update(next_attempt_at=timezone.now())
    latencies = []
    started = time.perf_counter()
    for pk in ids:
        t0 = time.perf_counter()
        assert services.delivery_attempt(delivery_id=pk).state == "succeeded"
        latencies.append((time.perf_counter() - t0) * 1000)
    total = time.perf_counter() - started
    latencies.sort()
    print(
        f"delivery attempt to a loopback receiver: {len(ids) / total:.0f} deliveries/s in one process, "
        f"p50 {statistics.median(latencies):.1f} ms, p95 {latencies[int(len(latencies) * 0.95)]:.1f} ms"
    )
    server.shutdown()
    client = redis.Redis.from_url(settings.REDIS_URL)
    client.flushdb()


if __name__ == "__main__":
    main()
