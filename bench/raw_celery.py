"""The raw Celery baseline of the jobs benchmarks: a no-op task on our broker, queue and worker settings.

Shared by bench/jobs_throughput.py and bench/side_by_side.py. A worker that runs ``bench.noop`` must
import this module (``worker(...)`` starts one with ``-I bench.raw_celery``). The task goes to queue
``jobs`` like a job's ``run_job`` message, so it pays what our messages pay (late acknowledgement,
prefetch 1: ``config/settings.py``) and nothing of ours (no database, no events).
"""

from __future__ import annotations

import time

from config.celery import app


@app.task(name="bench.noop", ignore_result=True)
def noop() -> None:
    """The raw Celery baseline: a task that does nothing."""


def queue_empty(client) -> bool:
    """True when the ``jobs`` queue's lists (every broker priority) and kombu's unacked set are empty.
    Only lists count: other keys start with ``jobs`` too (``jobserver:...``: the beat lock, worker
    heartbeats)."""
    sizes = [client.llen(k) for k in client.keys("jobs*") if client.type(k) == b"list"]
    return sum(sizes) == 0 and client.hlen("unacked") == 0


def wait(predicate, timeout: float = 600, every: float = 0.05) -> None:
    """Poll ``predicate`` every ``every`` s; ``SystemExit`` after ``timeout`` s."""
    end = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > end:
            raise SystemExit("timed out waiting for the worker")
        time.sleep(every)


def raw_phase(n: int, client) -> tuple[float, float]:
    """Send ``n`` no-op tasks one by one; returns (seconds to send them, seconds until the worker
    acknowledged the last), both from the first send. ``client``: redis-py client of the broker DB."""
    t0 = time.perf_counter()
    for _ in range(n):
        noop.apply_async()
    sent = time.perf_counter()
    wait(lambda: queue_empty(client))
    return sent - t0, time.perf_counter() - t0


def worker(concurrency: int = 2, name: str = "bench-worker", imports: str = "bench.raw_celery"):
    """A real ``celery worker -Q jobs -c <concurrency>`` process (prefork) that knows ``bench.noop``
    (``imports``: the module defining it, plus any other); the test suite's process helper."""
    from tests.conftest import Process

    return Process(
        ["worker", "-Q", "jobs", "-c", str(concurrency), "-n", f"{name}@%h", "-I", imports,
         "--without-gossip", "--without-mingle", "--without-heartbeat", "--loglevel", "WARNING"],
        name,
    )
