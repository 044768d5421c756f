"""No lost, no doubled jobs, with real processes: priority order, kill -9 of a worker, Redis flushed."""


import pytest
import redis
from django.conf import settings

from jobs import submission
from jobs.models import Job
from tests.conftest import start_beat, start_worker, wait_until
from tests.jobs.conftest import TEST_HANDLERS_ENV

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

FAST_RECOVERY = {
    **TEST_HANDLERS_ENV,
    "JOB_HEARTBEAT_S": "0.5",
    "JOB_STALE_AFTER_S": "2",
    "JOB_REQUEUE_WAITING_AFTER_S": "1",
    "JOB_RECONCILE_EVERY_S": "0.5",
}


def test_lower_priority_number_runs_first_on_a_single_slot_worker(owner):
    priorities = [10, 0, 1000, 3, 10_000, 1, 150]
    jobs = [
        submission.job_submit(owner=owner, name="echo", data=p, options={"priority": p})[0]
        for p in priorities
    ]
    worker = start_worker(name="prio-worker", concurrency=1)
    try:
        done = wait_until(lambda: Job.objects.filter(state="completed").count() == len(jobs), 30)
        assert done, worker.output()[-3000:]
    finally:
        worker.stop()
    order = list(Job.objects.order_by("started_at").values_list("priority", flat=True))
    assert order == [0, 1, 3, 10, 150, 1000, 10_000]


def test_kill_9_of_the_worker_mid_job_completes_exactly_once_after_recovery(owner):
    beat = start_beat(name="kill-beat", **FAST_RECOVERY)
    first = start_worker(name="doomed-worker", concurrency=1, **FAST_RECOVERY)
    second = None
    try:
        job, _ = submission.job_submit(
            owner=owner, name="demo.progress", data={"steps": 5, "delayMs": 1000}, options={"attempts": 2}
        )
        assert wait_until(
            lambda: Job.objects.filter(pk=job.pk, state="active", progress__gte=20).exists(), 30
        ), first.output()[-3000:]
        first.kill()  # SIGKILL to the whole process group: main process and its pool child
        second = start_worker(name="rescue-worker", concurrency=1, **FAST_RECOVERY)
        done = wait_until(lambda: Job.objects.filter(pk=job.pk, state="completed").exists(), 40)
        assert done, (second.output()[-3000:], beat.output()[-3000:])
        # A second completion, had there been one, would show as a third attempt: the rescue worker (one
        # process) takes its queue in order, so once a job submitted now has completed, any message of the
        # killed attempt redelivered before it has run too.
        marker, _ = submission.job_submit(owner=owner, name="echo", data={"after": "recovery"})
        assert wait_until(lambda: Job.objects.filter(pk=marker.pk, state="completed").exists(), 60)
        job.refresh_from_db()
        assert (job.state, job.attempts_made, job.stalled_count, job.progress, job.result) == (
            "completed", 1, 1, 100, {"steps": 5}
        )  # the stalled run spent no attempt (BullMQ)
        assert job.output == "".join(f"step {i} of 5 done\n" for i in range(1, 6))
        assert job.failed_reason == ""  # completed: the lost attempt's reason is cleared (issue 13)
    finally:
        for proc in (second, first, beat):
            if proc is not None:
                proc.stop()


def test_redis_flushed_while_20_jobs_wait_the_reconciler_gets_all_20_completed(owner):
    jobs = [submission.job_submit(owner=owner, name="echo", data=i)[0] for i in range(20)]
    client = redis.Redis.from_url(settings.REDIS_URL)
    assert client.llen("jobs") == 20
    client.flushdb()  # as if Redis restarted empty: every message is gone
    worker = start_worker(name="flush-worker", **FAST_RECOVERY)
    beat = start_beat(name="flush-beat", **FAST_RECOVERY)
    try:
        done = wait_until(lambda: Job.objects.filter(state="completed").count() == 20, 40)
        assert done, (worker.output()[-3000:], beat.output()[-3000:])
    finally:
        beat.stop()
        worker.stop()
    assert sorted(Job.objects.values_list("result", flat=True)) == list(range(20))
    assert set(Job.objects.values_list("attempts_made", flat=True)) == {1}
    assert {j.pk for j in jobs} == set(Job.objects.values_list("pk", flat=True))
