"""BullMQ's stalled-job rule (issue 13, item 3): a job whose worker died goes back to waiting without
spending an attempt, at most JOB_MAX_STALLED times, then fails "job stalled more than allowable limit".

The rule itself is driven through the reconciler with a dead worker written into the real Redis
registry; the last test SIGKILLs a real worker's whole process group during a drain.
"""

import time

import pytest
import redis
from django.conf import settings
from django.utils import timezone

from jobs import maintenance, runtime, submission, workers
from jobs.models import Job
from tests.conftest import start_beat, start_worker, wait_until
from tests.jobs.conftest import TEST_HANDLERS_ENV

GHOST = "ghost-host:4242"


def _dead_worker_holding(*jobs: Job) -> None:
    """Register GHOST as a worker that held ``jobs`` and whose heartbeat has expired."""
    client = redis.Redis.from_url(settings.REDIS_URL)
    client.sadd(workers.REGISTRY_KEY, GHOST)
    client.sadd(f"jobserver:worker:{GHOST}:jobs", *[j.pk for j in jobs])


def _active_on_ghost(owner, *, stalled_count: int = 0, attempts: int = 1) -> Job:
    job, _ = submission.job_submit(owner=owner, name="echo", data={"n": 1}, options={"attempts": attempts})
    now = timezone.now()
    Job.objects.filter(pk=job.pk).update(
        state="active", attempts_made=1, stalled_count=stalled_count, worker=GHOST, started_at=now,
        heartbeat_at=now,
    )
    job.refresh_from_db()
    return job


@pytest.mark.django_db(transaction=True)
def test_a_dead_workers_active_job_goes_back_to_waiting_without_spending_an_attempt(owner):
    job = _active_on_ghost(owner)
    _dead_worker_holding(job)
    assert maintenance.jobs_reconcile()["stale"] == 1
    job.refresh_from_db()
    assert (job.state, job.attempts_made, job.stalled_count, job.worker) == ("waiting", 0, 1, "")
    entry = job.attempt_history[-1]
    assert (entry["attempt"], entry["outcome"]) == (1, "stalled")
    assert GHOST in entry["reason"]
    # The worker is forgotten: a second pass changes nothing.
    assert maintenance.jobs_reconcile() == {"requeued": 0, "stale": 0}
    assert redis.Redis.from_url(settings.REDIS_URL).sismember(workers.REGISTRY_KEY, GHOST) == 0


@pytest.mark.django_db(transaction=True)
def test_a_job_stalled_past_the_limit_fails_with_bullmqs_reason(owner):
    job = _active_on_ghost(owner, stalled_count=1, attempts=3)
    _dead_worker_holding(job)
    maintenance.jobs_reconcile()
    job.refresh_from_db()
    assert job.state == "failed"  # attempts left do not matter: BullMQ fails it outright
    assert job.failed_reason.startswith("job stalled more than allowable limit")


@pytest.mark.django_db(transaction=True)
def test_the_stall_limit_is_a_setting(owner, settings):
    settings.JOB_MAX_STALLED = 0
    job = _active_on_ghost(owner)
    _dead_worker_holding(job)
    maintenance.jobs_reconcile()
    job.refresh_from_db()
    assert (job.state, job.stalled_count) == ("failed", 0)
    assert job.failed_reason.startswith("job stalled more than allowable limit")


@pytest.mark.django_db(transaction=True)
def test_a_dead_workers_received_but_unstarted_job_is_published_again(owner):
    job, _ = submission.job_submit(owner=owner, name="echo", data=1)
    client = redis.Redis.from_url(settings.REDIS_URL)
    client.delete("jobs")  # its message went to the dead worker
    _dead_worker_holding(job)
    assert maintenance.jobs_reconcile()["requeued"] == 1
    assert client.llen("jobs") == 1


@pytest.mark.django_db(transaction=True)
def test_a_live_workers_jobs_are_left_alone(owner):
    job = _active_on_ghost(owner)
    _dead_worker_holding(job)
    redis.Redis.from_url(settings.REDIS_URL).set(f"jobserver:worker:{GHOST}:alive", "1", ex=30)
    assert maintenance.jobs_reconcile() == {"requeued": 0, "stale": 0}
    job.refresh_from_db()
    assert job.state == "active"


@pytest.mark.django_db(transaction=True)
def test_an_old_run_cannot_finish_the_run_that_replaced_it(owner):
    """A worker thought dead that finishes after all must not overwrite the job's new run."""
    job = _active_on_ghost(owner)
    stale_copy = Job.objects.get(pk=job.pk)
    _dead_worker_holding(job)
    maintenance.jobs_reconcile()
    Job.objects.filter(pk=job.pk).update(state="active", attempts_made=1)  # claimed again (stalled_count 1)
    assert not runtime._complete(job.pk, 1, stale_copy.stalled_count, {"late": True}, 100, timezone.now())
    assert Job.objects.get(pk=job.pk).state == "active"


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_sigkill_of_the_worker_group_mid_drain_hands_its_jobs_back_and_all_complete(owner):
    """attempts: 1 jobs of a worker killed with SIGKILL (main process and pool) do not fail: they run
    again on another worker. Default registry timings (JOB_WORKER_DEAD_AFTER_S 15 s) and the default
    database heartbeat (60 s) and re-publish delay (300 s): the registry alone brings them back."""
    jobs = [
        submission.job_submit(owner=owner, name="test.sleep", data={"ms": 300, "i": i})[0] for i in range(60)
    ]
    beat = start_beat(name="stall-beat", **TEST_HANDLERS_ENV)
    first = start_worker(name="stall-doomed", concurrency=2, **TEST_HANDLERS_ENV)
    second = None
    try:
        started = wait_until(lambda: Job.objects.filter(state="completed").count() >= 6, 60)
        assert started, first.output()[-3000:]
        first.kill()
        killed_at = timezone.now()
        time.sleep(0.5)
        held = list(Job.objects.filter(state="active").values_list("pk", flat=True))
        second = start_worker(name="stall-rescue", concurrency=2, **TEST_HANDLERS_ENV)
        done = wait_until(lambda: Job.objects.filter(state="completed").count() == len(jobs), 360, 0.5)
        assert done, (second.output()[-3000:], beat.output()[-3000:])
        assert not Job.objects.filter(state="failed").exists()
        for job in Job.objects.filter(pk__in=held):
            assert (job.attempts_made, job.stalled_count) == (1, 1), job.attempt_history
            assert [e["outcome"] for e in job.attempt_history] == ["stalled", "completed"]
            # Back and running within 60 s of the worker's death (the bound).
            assert (job.started_at - killed_at).total_seconds() < 60
        assert held, "the kill found no job running"
        back = max((j.started_at - killed_at).total_seconds() for j in Job.objects.filter(pk__in=held))
        print(f"{len(held)} running jobs of the killed worker back and running {back:.1f} s after the kill")
    finally:
        for proc in (second, first, beat):
            if proc is not None:
                proc.stop()
