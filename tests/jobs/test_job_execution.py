"""Running jobs in this process through the service: outcomes, attempts, backoff, context, pruning,
reconciler."""

from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone

from jobs import maintenance, runtime, submission
from jobs.models import Job


def _run(owner, name, data=None, **options):
    job, _ = submission.job_submit(owner=owner, name=name, data=data, options=options)
    runtime.job_execute(job_id=job.pk)
    job.refresh_from_db()
    return job


def test_failure_with_attempts_left_waits_for_the_backoff(owner):
    before = timezone.now()
    job = _run(owner, "test.flaky", {}, attempts=3, backoff={"type": "exponential", "delay": 1000})
    assert job.state == "delayed" and job.attempts_made == 1
    assert job.failed_reason == "RuntimeError: attempt 1 failed on purpose"
    assert "RuntimeError" in job.stacktrace and job.finished_at is None
    assert (
        before + timedelta(milliseconds=1000) <= job.run_at <= timezone.now() + timedelta(milliseconds=1000)
    )
    # second failure: 2,000 ms after it failed
    Job.objects.filter(pk=job.pk).update(state="waiting")
    before = timezone.now()
    runtime.job_execute(job_id=job.pk)
    after = timezone.now()
    job.refresh_from_db()
    assert job.state == "delayed" and job.attempts_made == 2
    assert before + timedelta(milliseconds=2000) <= job.run_at <= after + timedelta(milliseconds=2000)
    # third and last attempt fails for good
    Job.objects.filter(pk=job.pk).update(state="waiting")
    runtime.job_execute(job_id=job.pk)
    job.refresh_from_db()
    assert job.state == "failed" and job.attempts_made == 3
    assert job.failed_reason == "RuntimeError: attempt 3 failed on purpose" and job.finished_at is not None


def test_failure_without_backoff_goes_straight_back_to_waiting(owner):
    job = _run(owner, "test.flaky", {"succeedOn": 2}, attempts=2)
    assert job.state == "waiting" and job.attempts_made == 1 and job.run_at is None
    runtime.job_execute(job_id=job.pk)
    job.refresh_from_db()
    assert job.state == "completed" and job.result == {"attempt": 2} and job.attempts_made == 2


def test_unrecoverable_error_skips_the_remaining_attempts(owner):
    job = _run(owner, "test.unrecoverable", None, attempts=5)
    assert job.state == "failed" and job.attempts_made == 1
    assert job.failed_reason == "UnrecoverableError: no point in retrying"


def test_a_result_that_is_not_json_fails_the_job(owner):
    job = _run(owner, "test.bad_result")
    assert (
        job.state == "failed"
        and job.failed_reason == "TypeError: Object of type set is not JSON serializable"
    )


def test_handler_that_sees_cancellation_ends_cancelled(owner):
    job = _run(owner, "test.self_cancel")
    assert job.state == "cancelled" and job.failed_reason == "cancelled: while active"
    assert job.progress == 40 and job.result is None and job.finished_at is not None


def test_demo_progress_streams_deltas_in_order_and_ends_at_100(owner):
    job = _run(owner, "demo.progress", {"steps": 3, "delayMs": 0})
    assert job.state == "completed" and job.progress == 100 and job.result == {"steps": 3}
    assert job.output == "step 1 of 3 done\nstep 2 of 3 done\nstep 3 of 3 done\n"


@override_settings(JOB_MAX_LOG_LINES=5, JOB_MAX_OUTPUT_BYTES=10)
def test_deltas_and_logs_are_kept_in_order_and_bounded(owner):
    job = _run(owner, "test.chatty", {"n": 8})
    assert job.state == "completed"
    assert job.output == "0,1,2,3,4,"
    assert job.logs == [
        "line 0",
        "line 1",
        "line 2",
        "line 3",
        "line 4",
        "... 3 more line(s) not stored (JOB_MAX_LOG_LINES)",
    ]


@pytest.mark.parametrize("value", [101, -1, "50", True, [1]])
def test_bad_progress_fails_the_job(owner, value):
    from jobs.handlers import registry

    registry.handler("test.progress_value")(lambda data, ctx: ctx.progress(value))
    job = _run(owner, "test.progress_value")
    assert job.state == "failed"
    assert job.failed_reason.startswith("ValueError: progress: must be a number 0-100 or a JSON object")


def test_progress_may_be_a_json_object(owner):
    from jobs.handlers import registry

    registry.handler("test.progress_object")(lambda data, ctx: ctx.progress({"done": 3, "of": 7}))
    job = _run(owner, "test.progress_object")
    assert job.state == "completed" and job.progress == {"done": 3, "of": 7}


def test_remove_on_complete_true_deletes_the_job(owner):
    job, _ = submission.job_submit(owner=owner, name="echo", data=1, options={"removeOnComplete": True})
    assert runtime.job_execute(job_id=job.pk).state == "completed"
    assert not Job.objects.filter(pk=job.pk).exists()


def test_remove_on_complete_count_keeps_the_newest_per_user_and_name(owner, other_user):
    mine = [_run(owner, "echo", i, removeOnComplete=2).pk for i in range(4)]
    other_name = _run(owner, "demo.progress", {"steps": 1, "delayMs": 0}).pk
    theirs = _run(other_user, "echo", 9).pk
    assert set(Job.objects.values_list("pk", flat=True)) == {mine[2], mine[3], other_name, theirs}


def test_remove_on_fail_age_removes_older_failures(owner):
    old = _run(owner, "test.unrecoverable")
    Job.objects.filter(pk=old.pk).update(finished_at=timezone.now() - timedelta(seconds=120))
    keep = _run(owner, "test.unrecoverable")
    newest = _run(owner, "test.unrecoverable", None, removeOnFail={"age": 60, "count": 5})
    assert set(Job.objects.values_list("pk", flat=True)) == {keep.pk, newest.pk}


def test_remove_on_fail_applies_only_to_final_failures(owner):
    job = _run(owner, "test.flaky", {}, attempts=2, removeOnFail=True)
    assert job.state == "waiting"
    runtime.job_execute(job_id=job.pk)
    assert not Job.objects.filter(pk=job.pk).exists()


@override_settings(ALLOW_PRIVATE_NETWORK_TARGETS=False)
def test_http_request_to_a_private_address_is_refused_without_retries(owner):
    job = _run(owner, "http.request", {"url": "http://127.0.0.1:9/"}, attempts=3)
    assert job.state == "failed" and job.attempts_made == 1
    assert job.failed_reason.startswith("UnrecoverableError: url: host '127.0.0.1' resolves to a private")
    assert "ALLOW_PRIVATE_NETWORK_TARGETS" in job.failed_reason


@override_settings(JOB_STALE_AFTER_S=30)
def test_reconciler_hands_back_a_job_whose_worker_stopped_beating_without_spending_an_attempt(owner):
    now = timezone.now()
    job, _ = submission.job_submit(owner=owner, name="echo", data=1, options={"attempts": 2})
    Job.objects.filter(pk=job.pk).update(
        state="active", attempts_made=1, heartbeat_at=now - timedelta(seconds=31)
    )
    fresh, _ = submission.job_submit(owner=owner, name="echo", data=2, options={"attempts": 2})
    Job.objects.filter(pk=fresh.pk).update(
        state="active", attempts_made=1, heartbeat_at=now - timedelta(seconds=5)
    )
    assert maintenance.jobs_reconcile(now=now) == {"requeued": 0, "stale": 1}
    job.refresh_from_db()
    fresh.refresh_from_db()
    assert (job.state, job.attempts_made, job.stalled_count) == ("waiting", 0, 1)
    assert job.attempt_history[-1]["reason"] == "stalled: no heartbeat for 31 s"
    assert fresh.state == "active"
    # the next run is attempt 1 again; a redelivered message of the lost run then does nothing
    assert runtime.job_execute(job_id=job.pk).state == "completed"
    assert runtime.job_execute(job_id=job.pk) is None
    job.refresh_from_db()
    assert job.attempts_made == 1


def test_a_job_completed_after_a_worker_lost_retry_shows_no_failure(owner, api):
    now = timezone.now()
    job, _ = submission.job_submit(owner=owner, name="echo", data=1, options={"attempts": 2})
    lost = now - timedelta(seconds=90)
    Job.objects.filter(pk=job.pk).update(state="active", attempts_made=1, heartbeat_at=lost)
    maintenance.jobs_reconcile(now=now)
    assert runtime.job_execute(job_id=job.pk).state == "completed"
    body = api.get(f"/jobs/{job.pk}").json()
    assert (body["state"], body["attemptsMade"], body["failedReason"], body["stacktrace"]) == (
        "completed", 1, None, None
    )


def test_a_job_completed_after_a_failed_attempt_shows_no_failure(owner):
    job = _run(owner, "test.flaky", {"succeedOn": 2}, attempts=2)
    assert job.failed_reason == "RuntimeError: attempt 1 failed on purpose"
    runtime.job_execute(job_id=job.pk)
    job.refresh_from_db()
    assert (job.state, job.failed_reason, job.stacktrace) == ("completed", "", "")


@override_settings(JOB_STALE_AFTER_S=30)
def test_reconciler_fails_a_job_stalled_too_often_and_names_a_timeout(owner):
    now = timezone.now()
    lost, _ = submission.job_submit(owner=owner, name="echo", data=1)
    Job.objects.filter(pk=lost.pk).update(stalled_count=1)  # it stalled once before: the limit
    timed, _ = submission.job_submit(owner=owner, name="echo", data=1, options={"timeout": 1000})
    cancelled, _ = submission.job_submit(owner=owner, name="echo", data=1)
    stale = now - timedelta(seconds=40)
    Job.objects.filter(pk__in=[lost.pk, timed.pk, cancelled.pk]).update(
        state="active", attempts_made=1, heartbeat_at=stale, started_at=stale
    )
    Job.objects.filter(pk=cancelled.pk).update(cancel_requested=True)
    assert maintenance.jobs_reconcile(now=now) == {"requeued": 0, "stale": 3}
    states = {j.pk: (j.state, j.failed_reason) for j in Job.objects.all()}
    assert states == {
        lost.pk: ("failed", maintenance.STALLED_REASON + " (2 stalls, limit 1; no heartbeat for 40 s)"),
        timed.pk: ("failed", "timeout: exceeded 1000 ms"),
        cancelled.pk: ("cancelled", "cancelled: its worker was lost"),
    }


@override_settings(JOB_REQUEUE_WAITING_AFTER_S=60)
@pytest.mark.django_db(transaction=True)
def test_reconciler_publishes_old_waiting_jobs_again(owner):
    import redis
    from django.conf import settings

    client = redis.Redis.from_url(settings.REDIS_URL)
    now = timezone.now()
    old, _ = submission.job_submit(owner=owner, name="echo", data=1)
    young, _ = submission.job_submit(owner=owner, name="echo", data=2)
    Job.objects.filter(pk=old.pk).update(enqueued_at=now - timedelta(seconds=61))
    client.flushdb()  # the broker lost both messages
    assert maintenance.jobs_reconcile(now=now) == {"requeued": 1, "stale": 0}
    old.refresh_from_db()
    assert old.enqueued_at == now and client.llen("jobs") == 1
    assert maintenance.jobs_reconcile(now=now) == {"requeued": 0, "stale": 0}


def test_a_message_redelivered_while_the_job_runs_does_nothing(owner):
    job, _ = submission.job_submit(owner=owner, name="echo", data=1)
    beat = timezone.now()
    Job.objects.filter(pk=job.pk).update(state="active", attempts_made=1, heartbeat_at=beat)
    assert runtime.job_execute(job_id=job.pk) is None
    job.refresh_from_db()
    assert (job.state, job.attempts_made, job.heartbeat_at) == ("active", 1, beat)
