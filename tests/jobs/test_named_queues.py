"""Named queues without worker processes (issue 16): the rate limiter's slots in real Redis, the rules of
a queue's limit, pause at claim, and the reconciler leaving a paused queue alone."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from jobs import limiter, maintenance, queue_control, runtime, submission
from jobs.models import Job, JobQueue


def test_limiter_grants_at_most_max_per_window_and_takes_back_unused_slots():
    first = limiter.limiter_take(queue="q", limit_max=10, duration_ms=60_000, want=4)
    assert (first.granted, first.wait_ms) == (4, 0)
    second = limiter.limiter_take(queue="q", limit_max=10, duration_ms=60_000, want=10)
    assert second.granted == 6
    assert 59_000 < second.wait_ms <= 60_001  # until the oldest slot leaves the window
    assert limiter.limiter_take(queue="q", limit_max=10, duration_ms=60_000, want=1).granted == 0
    limiter.limiter_give_back(grant=second, slots=[5, 6])
    assert limiter.limiter_take(queue="q", limit_max=10, duration_ms=60_000, want=5).granted == 2
    # Another queue has its own window.
    assert limiter.limiter_take(queue="other", limit_max=10, duration_ms=60_000, want=3).granted == 3


def test_a_slot_counts_from_its_jobs_recorded_start():
    grant = limiter.limiter_take(queue="q", limit_max=1, duration_ms=1000, want=1)
    assert grant.granted == 1
    # Started (as recorded) two seconds ago: the window no longer holds it.
    limiter.limiter_started(grant=grant, slot=1, started_at=timezone.now() - timedelta(seconds=2))
    assert limiter.limiter_take(queue="q", limit_max=1, duration_ms=1000, want=1).granted == 1
    # An unstarted slot is held: nothing more until it started and its window passed.
    assert limiter.limiter_take(queue="q", limit_max=1, duration_ms=1000, want=1).granted == 0


@pytest.mark.django_db
def test_limit_rules_name_the_field():
    with pytest.raises(ValidationError) as exc:
        queue_control.queue_set_limit(name="jobQueue", limit_max=10, duration_ms=None)
    assert exc.value.message_dict == {
        "duration": ["duration: required with the other (set both, or neither)"]
    }
    with pytest.raises(ValidationError) as exc:
        queue_control.queue_set_limit(name="jobQueue", limit_max=0, duration_ms=1000)
    assert exc.value.message_dict == {"max": ["max: must be a whole number from 1 to 1000000"]}
    with pytest.raises(ValidationError) as exc:
        queue_control.queue_set_limit(name="jobQueue", limit_max=1, duration_ms=600_001)
    assert exc.value.message_dict == {"duration": ["duration: must be a whole number from 1 to 600000"]}
    with pytest.raises(ValidationError) as exc:
        queue_control.queue_pause(name="nope")
    assert list(exc.value.message_dict) == ["queue"]
    state = queue_control.queue_set_limit(name="jobQueue", limit_max="10", duration_ms=1000)
    assert state.limiter == {"max": 10, "duration": 1000}
    assert queue_control.queue_set_limit(name="jobQueue", limit_max=None, duration_ms=None).limiter is None
    assert list(JobQueue.objects.values_list("name", "limit_max", "paused")) == [("jobQueue", None, False)]


@pytest.mark.django_db(transaction=True)
def test_a_paused_queues_job_is_not_claimed_and_its_message_is_dropped(owner):
    queue_control.queue_pause(name="jobQueue")
    job, _ = submission.job_submit(owner=owner, name="echo", data=1)
    other, _ = submission.job_submit(owner=owner, name="echo", data=2, queue="schedQueue")
    assert runtime.job_execute(job_id=job.pk, queue="jobQueue") is None
    assert runtime.jobs_execute_batch(job_ids=[job.pk], queue="jobQueue") == 0
    job.refresh_from_db()
    assert (job.state, job.attempts_made, job.started_at) == ("waiting", 0, None)
    assert runtime.job_execute(job_id=other.pk, queue="schedQueue").state == "completed"
    queue_control.queue_resume(name="jobQueue")
    assert runtime.job_execute(job_id=job.pk, queue="jobQueue").state == "completed"


@pytest.mark.django_db(transaction=True)
def test_the_lost_message_sweep_leaves_a_paused_queues_jobs_alone(owner, settings):
    queue_control.queue_pause(name="flowQueue")
    paused, _ = submission.job_submit(owner=owner, name="echo", data=1, queue="flowQueue")
    lost, _ = submission.job_submit(owner=owner, name="echo", data=2, queue="jobQueue")
    old = timezone.now() - timedelta(seconds=settings.JOB_REQUEUE_WAITING_AFTER_S + 10)
    Job.objects.update(enqueued_at=old)
    assert maintenance.jobs_reconcile()["requeued"] == 1
    assert Job.objects.get(pk=paused.pk).enqueued_at == old
    assert Job.objects.get(pk=lost.pk).enqueued_at > old


@pytest.mark.django_db(transaction=True)
def test_a_rate_limited_batch_claims_its_slots_and_defers_the_rest_without_an_attempt(owner):
    queue_control.queue_set_limit(name="schedQueue", limit_max=3, duration_ms=60_000)
    pairs = submission.jobs_submit_bulk(
        owner=owner, items=[{"name": "echo", "data": i, "queue": "schedQueue"} for i in range(5)]
    )
    ids = [job.pk for job, _ in pairs]
    assert runtime.jobs_execute_batch(job_ids=ids, queue="schedQueue") == 3
    states = dict(Job.objects.filter(pk__in=ids).values_list("pk", "state"))
    assert sorted(states.values()) == ["completed"] * 3 + ["waiting"] * 2
    assert set(Job.objects.filter(state="waiting").values_list("attempts_made", flat=True)) == {0}
    # The window is full: a single job of the queue waits too.
    single, _ = submission.job_submit(owner=owner, name="echo", data="x", queue="schedQueue")
    assert runtime.job_execute(job_id=single.pk, queue="schedQueue") is None
    assert Job.objects.get(pk=single.pk).state == "waiting"
