"""Every finished attempt is kept on the job: time, duration, outcome and reason (``jobs.attempts``)."""

from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from jobs import actions, maintenance, runtime, submission
from jobs.models import Job

pytestmark = pytest.mark.django_db


def test_each_attempt_is_recorded_with_its_outcome_and_reason(api, owner):
    job, _ = submission.job_submit(
        owner=owner, name="test.flaky", data={"succeedOn": 3}, options={"attempts": 3}
    )
    for _ in range(3):
        runtime.job_execute(job_id=job.pk)
    job.refresh_from_db()
    assert job.state == "completed"
    history = api.get(f"/jobs/{job.pk}").json()["attemptHistory"]
    assert [(a["attempt"], a["outcome"], a["reason"]) for a in history] == [
        (1, "failed", "RuntimeError: attempt 1 failed on purpose"),
        (2, "failed", "RuntimeError: attempt 2 failed on purpose"),
        (3, "completed", None),
    ]
    for entry in history:
        started, finished = parse_datetime(entry["startedAt"]), parse_datetime(entry["finishedAt"])
        assert started <= finished
        assert entry["durationMs"] == int((finished - started).total_seconds() * 1000)
    assert history[-1]["finishedAt"] == job.finished_at.isoformat().replace("+00:00", "Z")


def test_final_failure_and_user_retry_keep_the_history(owner):
    job, _ = submission.job_submit(owner=owner, name="test.unrecoverable", data=None)
    runtime.job_execute(job_id=job.pk)
    job.refresh_from_db()
    actions.job_retry(job=job)
    runtime.job_execute(job_id=job.pk)
    job.refresh_from_db()
    assert [(a["attempt"], a["outcome"]) for a in job.attempt_history] == [(1, "failed"), (2, "failed")]


def test_cancelled_while_active_is_an_attempt(owner):
    job, _ = submission.job_submit(owner=owner, name="test.self_cancel", data=None)
    runtime.job_execute(job_id=job.pk)
    job.refresh_from_db()
    assert [(a["outcome"], a["reason"]) for a in job.attempt_history] == [
        ("cancelled", "cancelled: while active")
    ]


@override_settings(JOB_STALE_AFTER_S=30)
def test_an_attempt_lost_with_its_worker_is_recorded_by_the_reconciler(owner):
    now = timezone.now()
    job, _ = submission.job_submit(owner=owner, name="echo", data=1)
    Job.objects.filter(pk=job.pk).update(
        state="active", attempts_made=1, started_at=now - timedelta(seconds=40),
        heartbeat_at=now - timedelta(seconds=31),
    )
    maintenance.jobs_reconcile(now=now)
    job.refresh_from_db()
    assert (job.state, job.attempts_made, job.stalled_count) == ("waiting", 0, 1)  # BullMQ's stalled rule
    [entry] = job.attempt_history
    assert (entry["attempt"], entry["outcome"]) == (1, "stalled")
    assert entry["startedAt"] == (now - timedelta(seconds=40)).isoformat().replace("+00:00", "Z")
    assert entry["durationMs"] >= 40_000  # ended when the reconciler decided, a moment after `now`
    assert entry["reason"] == "stalled: no heartbeat for 31 s"


def test_history_keeps_the_newest_entries_only(owner, monkeypatch):
    from jobs import attempts

    monkeypatch.setattr(attempts, "MAX_ENTRIES", 2)
    job, _ = submission.job_submit(owner=owner, name="test.flaky", data={}, options={"attempts": 3})
    for _ in range(3):
        runtime.job_execute(job_id=job.pk)
    job.refresh_from_db()
    assert [a["attempt"] for a in job.attempt_history] == [2, 3]
