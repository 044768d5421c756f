"""Jobs that travel, are claimed and are finished together (issue 14): POST /jobs/submit/bulk, run_jobs
batches, head-of-line hand-back, durable schedule fires."""

import os
import time
from datetime import UTC, timedelta

import pytest
import redis
from django.conf import settings
from django.utils import timezone

from jobs import actions, runtime, submission
from jobs.models import Job
from scheduling import services as schedule_services
from scheduling.models import Schedule
from tests.conftest import start_beat, start_worker, wait_until
from tests.jobs.conftest import TEST_HANDLERS_ENV


def _messages() -> int:
    """run_job/run_jobs messages waiting in Redis (every priority list of queue ``jobs``)."""
    client = redis.Redis.from_url(settings.REDIS_URL)
    return sum(client.llen(k) for k in client.keys("jobs*") if client.type(k) == b"list")


# --- POST /jobs/submit/bulk -------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_bulk_submit_answers_201_with_the_jobs_in_order_and_publishes_few_messages(api):
    items = [{"name": "echo", "data": i} for i in range(250)]
    items[7]["options"] = {"priority": 5}
    res = api.post("/jobs/submit/bulk", items, format="json")
    assert res.status_code == 201, res.json()
    body = res.json()
    assert [j["data"] for j in body] == list(range(250))
    assert {j["state"] for j in body} == {"waiting"}
    assert Job.objects.count() == 250
    # 249 of priority 0 in three batches of at most 100, and one message for the priority-5 job.
    assert _messages() == 4


@pytest.mark.django_db
def test_bulk_submit_names_each_bad_item_by_index_and_stores_nothing(api):
    items = [
        {"name": "echo", "data": 1},
        {"name": "no.such.handler", "data": 2},
        {"name": "echo", "data": 3, "options": {"attempts": "many"}},
        {"data": 4},
    ]
    res = api.post("/jobs/submit/bulk", items, format="json")
    assert res.status_code == 400, res.json()
    errors = res.json()["errors"]
    assert {"1.name", "2.options", "3.name"} <= set(errors), errors
    assert not any(key.startswith("0.") for key in errors)
    assert not Job.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("body", [[], {"name": "echo"}, [{"name": "echo"}] * 1001])
def test_bulk_submit_refuses_a_body_that_is_not_1_to_1000_items(api, body):
    res = api.post("/jobs/submit/bulk", body, format="json")
    assert res.status_code == 400
    assert "body" in res.json()["errors"]
    assert not Job.objects.exists()


@pytest.mark.django_db
def test_bulk_submit_keeps_job_id_idempotency(api, owner):
    first, _ = submission.job_submit(owner=owner, name="echo", data=0, options={"jobId": "order-1"})
    items = [
        {"name": "echo", "data": 1, "options": {"jobId": "order-1"}},
        {"name": "echo", "data": 2, "options": {"jobId": "order-2"}},
        {"name": "echo", "data": 3, "options": {"jobId": "order-2"}},
    ]
    body = api.post("/jobs/submit/bulk", items, format="json").json()
    assert [j["jobId"] for j in body] == ["order-1", "order-2", "order-2"]
    assert body[0]["data"] == 0 and body[2]["data"] == 2  # the existing jobs, not new ones
    assert Job.objects.count() == 2


def test_the_bulk_route_is_in_the_openapi_spec(api):
    spec = api.get("/api-docs.json").json()
    operation = spec["paths"]["/jobs/submit/bulk"]["post"]
    assert operation["requestBody"]["content"]["application/json"]["schema"]["type"] == "array"
    assert operation["responses"]["201"]["content"]["application/json"]["schema"]["type"] == "array"


# --- a batch in one process -------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_batch_runs_each_job_once_with_its_own_outcome(owner):
    ok = [submission.job_submit(owner=owner, name="echo", data=i)[0] for i in range(3)]
    bad, _ = submission.job_submit(owner=owner, name="test.unrecoverable", data={})
    slow, _ = submission.job_submit(
        owner=owner, name="test.sleep", data={"ms": 3000}, options={"timeout": 200}
    )
    cancelled, _ = submission.job_submit(owner=owner, name="echo", data="never")
    actions.job_cancel(job=cancelled)
    urgent, _ = submission.job_submit(owner=owner, name="echo", data="first", options={"priority": 1})
    ids = [j.pk for j in (*ok, bad, slow, cancelled)] + [urgent.pk]
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(settings, "JOB_BATCH_SLICE_S", 60)  # no hand-back in this test
        assert runtime.jobs_execute_batch(job_ids=ids) == 6
        assert runtime.jobs_execute_batch(job_ids=ids) == 0  # a redelivered message does nothing
    states = {j.pk: (j.state, j.attempts_made) for j in Job.objects.all()}
    assert all(states[j.pk] == ("completed", 1) for j in (*ok, urgent))
    assert states[bad.pk] == ("failed", 1)
    assert states[cancelled.pk] == ("cancelled", 0)
    slow.refresh_from_db()
    assert (slow.state, slow.failed_reason) == ("failed", "timeout: exceeded 200 ms")
    assert [j.result for j in Job.objects.filter(pk__in=[j.pk for j in ok]).order_by("pk")] == [0, 1, 2]
    # priority: the priority-1 job is not first (lower number first, 0 before 1) but before none of the 0s
    started = list(Job.objects.filter(state="completed").order_by("started_at").values_list("pk", flat=True))
    assert started[-1] == urgent.pk
    for job in Job.objects.filter(state="completed"):
        assert [e["outcome"] for e in job.attempt_history] == ["completed"]


@pytest.mark.django_db(transaction=True)
def test_unstarted_jobs_are_handed_back_after_the_slice(owner, settings):
    settings.JOB_BATCH_SLICE_S = 0.2
    sleeper, _ = submission.job_submit(owner=owner, name="test.sleep", data={"ms": 800})
    rest = [submission.job_submit(owner=owner, name="echo", data=i)[0] for i in range(5)]
    redis.Redis.from_url(settings.REDIS_URL).flushdb()
    assert runtime.jobs_execute_batch(job_ids=[sleeper.pk, *[j.pk for j in rest]]) == 1
    assert Job.objects.get(pk=sleeper.pk).state == "completed"
    for job in Job.objects.filter(pk__in=[j.pk for j in rest]):
        assert (job.state, job.attempts_made, job.worker) == ("waiting", 0, "")
    assert _messages() == 1  # handed back as one new batch


# --- real processes -------------------------------------------------------------------------------------


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_a_slow_first_job_does_not_hold_back_the_other_99_of_its_batch(owner):
    items = [{"name": "test.sleep", "data": {"ms": 5000}}] + [
        {"name": "test.sleep", "data": {"ms": 0, "i": i}} for i in range(99)
    ]
    pairs = submission.jobs_submit_bulk(owner=owner, items=items)
    assert _messages() == 1
    worker = start_worker(name="hol-worker", concurrency=4, **TEST_HANDLERS_ENV)
    try:
        done = wait_until(lambda: Job.objects.filter(state="completed").count() == 100, 90, 0.5)
        assert done, worker.output()[-3000:]
    finally:
        worker.stop()
    sleeper = Job.objects.get(pk=pairs[0][0].pk)
    others = Job.objects.exclude(pk=sleeper.pk)
    lag = max((j.started_at - sleeper.started_at).total_seconds() for j in others)
    print(f"the other 99 all started within {lag:.3f} s of the slow job")
    # Not held back: every one of them started while the slow job was still running (its 5 s), on
    # another process. How soon (the 1 s; 0.44-0.51 s measured) is a figure of
    # docs/benchmarks.md, not a timed assertion that a loaded machine could break.
    assert all(j.started_at < sleeper.finished_at for j in others), lag
    assert all(j.result["pid"] != sleeper.result["pid"] for j in others)
    assert all(j.attempts_made == 1 for j in Job.objects.all())


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_fires_are_durable_redis_flushed_before_the_worker_takes_them(owner):
    """1,000 fires dispatched by a real beat; Redis flushed before any worker runs: the reconciler
    publishes them again and exactly 1,000 jobs complete once; runCount equals the jobs."""
    at = (timezone.now() + timedelta(days=1)).astimezone(UTC)
    spec = {"at": at.isoformat().replace("+00:00", "Z")}
    for i in range(1000):
        schedule_services.schedule_create(owner=owner, name="echo", data=i, schedule=spec)
    # All due a moment from now (creating 1,000 takes longer than a short "at" would wait).
    Schedule.objects.update(next_fire_at=timezone.now() + timedelta(seconds=1))
    fast = {"JOB_REQUEUE_WAITING_AFTER_S": "1", "JOB_RECONCILE_EVERY_S": "0.5"}
    beat = start_beat(name="durable-beat", **fast)
    try:
        # the rows, then their run_jobs messages (published once the rows' transaction commits)
        published = wait_until(lambda: Job.objects.count() == 1000 and _messages() > 0, 60, 0.5)
        assert published, beat.output()[-3000:]
    finally:
        beat.stop()
    redis.Redis.from_url(settings.REDIS_URL).flushdb()
    worker = start_worker(name="durable-worker", concurrency=2, **fast)
    beat = start_beat(name="durable-beat-2", **fast)
    try:
        done = wait_until(lambda: Job.objects.filter(state="completed").count() == 1000, 120, 0.5)
        assert done, (worker.output()[-3000:], beat.output()[-3000:])
        time.sleep(1)
    finally:
        beat.stop()
        worker.stop()
    assert Job.objects.count() == 1000
    assert set(Job.objects.values_list("attempts_made", flat=True)) == {1}
    assert sorted(Job.objects.values_list("result", flat=True)) == list(range(1000))
    assert sum(Schedule.objects.values_list("run_count", flat=True)) == 1000


def workers_registry() -> dict:
    client = redis.Redis.from_url(settings.REDIS_URL)
    return {w.decode(): sorted(int(i) for i in client.smembers(f"jobserver:worker:{w.decode()}:jobs"))[:20]
            for w in client.smembers("jobserver:workers")}


def drain_with_kills(owner, *, jobs: int, kills: int, ms: int = 20, env: dict | None = None) -> dict:
    """Submit ``jobs`` counted test.sleep jobs in bulk, drain them with one worker that is SIGKILLed
    (whole process group) ``kills`` times, a new one started each time; returns what happened.
    Shared with scripts/fault_kill_drain.py (the issue's 20 kills over 2,000 jobs)."""
    import random

    env = {
        **TEST_HANDLERS_ENV, "JOB_WORKER_HEARTBEAT_S": "0.5", "JOB_WORKER_DEAD_AFTER_S": "3",
        "JOB_RECONCILE_EVERY_S": "0.5", "JOB_MAX_STALLED": str(kills + 1),
        # A message a worker took from Redis in the instant before it registered it (or a hand-back
        # published in the instant after its commit) dies with the worker; the lost-message sweep
        # finds the job waiting (300 s by default; here 10 s).
        "JOB_REQUEUE_WAITING_AFTER_S": "10", **(env or {}),
    }
    items = [{"name": "test.sleep", "data": {"ms": ms, "count": True, "i": i}} for i in range(jobs)]
    for start in range(0, jobs, 1000):
        submission.jobs_submit_bulk(owner=owner, items=items[start : start + 1000])
    beat = start_beat(name="kill-drain-beat", **env)
    worker = start_worker(name="kill-drain-worker", concurrency=2, **env)
    started = time.monotonic()
    try:
        for k in range(kills):
            target = jobs * (k + 1) // (kills + 1)
            wait_until(lambda t=target: Job.objects.filter(state="completed").count() >= t, 120, 0.2)
            time.sleep(random.uniform(0, 0.3))
            worker.kill()
            worker = start_worker(name=f"kill-drain-worker-{k}", concurrency=2, **env)
        finished = wait_until(
            lambda: Job.objects.exclude(state__in=["completed", "failed", "cancelled"]).count() == 0, 120, 0.5
        )
        if not finished:
            stuck = Job.objects.exclude(state__in=["completed", "failed", "cancelled"])
            print("STUCK", stuck.count(), list(stuck.values_list(
                "pk", "state", "worker", "attempts_made", "stalled_count", "enqueued_at", "started_at"
            )[:20]), workers_registry())
        drained_s = time.monotonic() - started
    finally:
        worker.stop()
        beat.stop()
    client = redis.Redis.from_url(settings.REDIS_URL)
    runs = {int(k.split(b":")[-1]): int(client.get(k)) for k in client.keys("test:runs:*")}
    return {"finished": finished, "drained_s": drained_s, "runs": runs}


@pytest.mark.e2e
@pytest.mark.timeout(int(os.environ.get("FAULT_TIMEOUT_S", 280)))
@pytest.mark.django_db(transaction=True)
def test_worker_killed_mid_batch_every_job_ends_once_and_only_running_ones_ran_twice(owner):
    """The suite runs 3 kills over 300 jobs; scripts/fault_kill_drain.py sets FAULT_JOBS=2000 and
    FAULT_KILLS=20 (the issue's run) and records the figures in docs/benchmarks.md."""
    n, kills = int(os.environ.get("FAULT_JOBS", 300)), int(os.environ.get("FAULT_KILLS", 3))
    # Outcomes stored after each job (JOB_BATCH_FLUSH_S=0): only a run going on at a kill can repeat.
    # With the default 50 ms, the outcomes of the last 50 ms of a killed process repeat too, each
    # shown as a stalled run (docs/runtime.md); the per-job checks below hold either way.
    outcome = drain_with_kills(owner, jobs=n, kills=kills, env={"JOB_BATCH_FLUSH_S": "0"})
    assert outcome["finished"]
    jobs = list(Job.objects.all())
    assert len(jobs) == n
    for job in jobs:
        outcomes = [e["outcome"] for e in job.attempt_history]
        assert job.state == "completed", (job.pk, job.failed_reason, outcomes)
        assert outcomes.count("completed") == 1 and set(outcomes[:-1]) <= {"stalled"}, outcomes
        # Every extra run of the handler shows as a stalled run (one killed between its start and the
        # handler's first line shows one without a second handler run).
        runs = outcome["runs"].get(job.pk, 0)
        assert runs - 1 <= outcomes.count("stalled") <= runs, (job.pk, runs, outcomes)
    # Only runs going on at a kill stall: at most one per pool process (2) per kill; the jobs a batch
    # had claimed but not started went back without a trace.
    stalled = sum(e["outcome"] == "stalled" for job in jobs for e in job.attempt_history)
    assert stalled <= 2 * kills, stalled
    print(f"FAULT RUN: {n} jobs, {kills} SIGKILLs of the worker group: all completed once, drained in "
          f"{outcome['drained_s']:.1f} s; "
          f"{sum(1 for j in jobs if j.stalled_count)} job(s) ran again after a kill")
