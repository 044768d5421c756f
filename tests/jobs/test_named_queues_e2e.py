"""Named queues with real worker processes (issue 16, docs/queues.md): each queue runs on the workers
that consume its Celery queue; a paused queue starts nothing until resumed and loses nothing; a rate
limit holds across two worker processes."""

from __future__ import annotations

import socket
import time
from datetime import timedelta

import pytest
import redis
from django.conf import settings
from django.utils import timezone

from jobs import queue_control, submission
from jobs.models import Job
from tests.conftest import start_worker, wait_until


def _identity(worker) -> str:
    """The worker's registry id (``jobs.workers.identity``): host and pid of its main process."""
    return f"{socket.gethostname()}:{worker.proc.pid}"


def _job_messages() -> int:
    """Messages waiting in Redis in any job queue's Celery queue (every priority list)."""
    client = redis.Redis.from_url(settings.REDIS_URL)
    return sum(client.llen(k) for k in client.keys("jobs*") if client.type(k) == b"list")


def _submit(owner, queue: str, n: int, *, per_message: int | None = None) -> list[int]:
    """``n`` echo jobs in ``queue``, in bulk submits of ``per_message`` (one run_jobs message each)."""
    ids: list[int] = []
    size = per_message or n
    for start in range(0, n, size):
        items = [{"name": "echo", "data": i, "queue": queue} for i in range(start, min(n, start + size))]
        ids += [job.pk for job, _ in submission.jobs_submit_bulk(owner=owner, items=items)]
    return ids


@pytest.mark.django_db(transaction=True)
def test_jobs_of_two_queues_run_only_on_the_worker_of_their_queue(owner):
    default_worker = start_worker(queues="jobs", name="q-default")
    sched_worker = start_worker(queues="jobs.schedQueue", name="q-sched")
    try:
        default_ids = _submit(owner, "jobQueue", 20, per_message=5)
        sched_ids = _submit(owner, "schedQueue", 20, per_message=5)
        single, _ = submission.job_submit(owner=owner, name="echo", data="one", queue="schedQueue")
        sched_ids.append(single.pk)
        everything = Job.objects.filter(pk__in=default_ids + sched_ids)
        assert wait_until(lambda: everything.filter(state="completed").count() == 41, 90, 0.2), list(
            everything.values_list("state", flat=True)
        )
        assert set(Job.objects.filter(pk__in=default_ids).values_list("worker", flat=True)) == {
            _identity(default_worker)
        }
        assert set(Job.objects.filter(pk__in=sched_ids).values_list("worker", flat=True)) == {
            _identity(sched_worker)
        }
    finally:
        default_worker.stop()
        sched_worker.stop()


@pytest.mark.django_db(transaction=True)
def test_worker_with_the_all_job_queues_marker_serves_every_named_queue(owner):
    worker = start_worker(name="q-all")
    try:
        ids = [
            submission.job_submit(owner=owner, name="echo", data=name, queue=name)[0].pk
            for name in ("jobQueue", "schedQueue", "flowQueue")
        ]
        done = Job.objects.filter(pk__in=ids, state="completed")
        assert wait_until(lambda: done.count() == 3, 60, 0.2)
        assert sorted(done.values_list("queue", "result")) == [
            ("flowQueue", "flowQueue"),
            ("jobQueue", "jobQueue"),
            ("schedQueue", "schedQueue"),
        ]
        assert "jobs.schedQueue" in worker.output() and "jobs.flowQueue" in worker.output()
    finally:
        worker.stop()


@pytest.mark.django_db(transaction=True)
def test_a_paused_queue_starts_none_of_its_100_waiting_jobs_until_resumed_then_all_complete(owner):
    queue_control.queue_pause(name="jobQueue")
    worker = start_worker(name="q-pause", concurrency=2)
    try:
        ids = _submit(owner, "jobQueue", 100, per_message=10)  # ten run_jobs messages
        single, _ = submission.job_submit(owner=owner, name="echo", data="single", queue="jobQueue")
        ids.append(single.pk)
        other, _ = submission.job_submit(owner=owner, name="echo", data="other queue", queue="schedQueue")
        jobs = Job.objects.filter(pk__in=ids)
        # The worker took every message of the paused queue (and acknowledged it) ...
        assert wait_until(lambda: _job_messages() == 0, 60, 0.2)
        # ... and a job of another queue still runs meanwhile: the worker is up and claiming.
        assert wait_until(lambda: Job.objects.get(pk=other.pk).state == "completed", 60, 0.2)
        time.sleep(2)  # a generous while more for any claim under way
        assert list(jobs.exclude(state="waiting").values_list("pk", "state")) == []
        assert jobs.filter(started_at__isnull=True, attempts_made=0, worker="").count() == 101
        assert queue_control.queue_counts()["jobQueue"]["paused"] == 101
        resumed_at = timezone.now()
        queue_control.queue_resume(name="jobQueue")
        assert wait_until(lambda: jobs.filter(state="completed").count() == 101, 120, 0.2), list(
            jobs.values_list("state", flat=True)
        )
        # None started before the resume; each ran once (no attempt spent while paused).
        assert jobs.filter(started_at__lt=resumed_at).count() == 0
        assert set(jobs.values_list("attempts_made", flat=True)) == {1}
        assert sorted(jobs.exclude(pk=single.pk).values_list("result", flat=True)) == list(range(100))
    finally:
        worker.stop()


@pytest.mark.django_db(transaction=True)
def test_pause_lets_running_jobs_finish_and_starts_no_new_one_after_it_returns(owner):
    worker = start_worker(name="q-pause-running", concurrency=2)
    try:
        slow, _ = submission.job_submit(
            owner=owner, name="demo.progress", data={"steps": 4, "delayMs": 500}, queue="jobQueue"
        )
        assert wait_until(lambda: Job.objects.get(pk=slow.pk).state == "active", 60, 0.1)
        queue_control.queue_pause(name="jobQueue")
        paused_at = timezone.now()
        later = _submit(owner, "jobQueue", 5)
        assert wait_until(lambda: Job.objects.get(pk=slow.pk).state == "completed", 60, 0.2)
        assert wait_until(lambda: _job_messages() == 0, 60, 0.2)
        assert list(Job.objects.filter(pk__in=later).values_list("state", flat=True)) == ["waiting"] * 5
        assert not Job.objects.filter(started_at__gte=paused_at).exists()
        queue_control.queue_resume(name="jobQueue")
        assert wait_until(lambda: Job.objects.filter(pk__in=later, state="completed").count() == 5, 60, 0.2)
    finally:
        worker.stop()


def _max_in_window(starts: list, window: timedelta) -> int:
    """The most starts within any half-open window [s, s + window) that begins at a start."""
    best, j = 0, 0
    for i in range(len(starts)):
        while j < len(starts) and starts[j] < starts[i] + window:
            j += 1
        best = max(best, j - i)
    return best


@pytest.mark.django_db(transaction=True)
def test_rate_limit_of_10_per_second_holds_across_two_worker_processes(owner):
    queue_control.queue_set_limit(name="schedQueue", limit_max=10, duration_ms=1000)
    workers = [start_worker(name=f"q-limit-{i}", concurrency=2) for i in range(2)]
    try:
        ids = _submit(owner, "schedQueue", 70, per_message=10)  # seven messages for two workers
        jobs = Job.objects.filter(pk__in=ids)
        assert wait_until(lambda: jobs.filter(state="completed").count() == 70, 120, 0.2), list(
            jobs.values_list("state", flat=True)
        )
        starts = sorted(jobs.values_list("started_at", flat=True))
        busiest = _max_in_window(starts, timedelta(seconds=1))
        in_five = sum(1 for s in starts if s < starts[0] + timedelta(seconds=5))
        print(f"rate limit 10/1000 ms, two workers: busiest 1 s window {busiest}, first 5 s {in_five} starts")
        # Strict, no tolerance: the limiter's window counts the starts the jobs record (jobs.limiter). The
        # limit is reached and never exceeded; how close the first 5 s come to 50 starts depends on the
        # machine's load (a deferred job's message arrives late on a busy machine), so it is printed and
        # recorded in docs/queues.md, not asserted from below (the guide: no timed assertions in tests).
        assert busiest == 10
        assert in_five <= 55  # never more than 10% over 10/s across 5 s
        assert set(jobs.values_list("attempts_made", flat=True)) == {1}  # waiting for a slot costs none
        assert len(set(jobs.values_list("worker", flat=True))) == 2  # both workers took part
    finally:
        for worker in workers:
            worker.stop()
