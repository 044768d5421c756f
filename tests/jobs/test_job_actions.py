"""Owner actions on a job: cancel, retry, delete (and their 409s), size limits, isolation."""

import pytest

from jobs import maintenance, runtime, submission
from jobs.models import Job


def _job(owner, state="waiting", **fields):
    job, _ = submission.job_submit(owner=owner, name="echo", data={"k": 1})
    Job.objects.filter(pk=job.pk).update(state=state, **fields)
    job.refresh_from_db()
    return job


def test_cancel_waiting_job_never_runs(api, owner):
    job = _job(owner)
    res = api.post(f"/jobs/{job.pk}/cancel")
    assert res.status_code == 200
    body = res.json()
    assert body["state"] == "cancelled" and body["failedReason"] == "cancelled: before it ran"
    assert body["timestamp"]["finished"] is not None and body["cancelRequested"] is True
    assert runtime.job_execute(job_id=job.pk) is None
    job.refresh_from_db()
    assert job.state == "cancelled" and job.attempts_made == 0 and job.started_at is None


def test_cancel_delayed_job_never_runs(api, owner):
    job, _ = submission.job_submit(owner=owner, name="echo", data=1, options={"delay": 10})
    assert api.post(f"/jobs/{job.pk}/cancel/").json()["state"] == "cancelled"
    from datetime import timedelta

    from django.utils import timezone

    maintenance.jobs_promote_due(now=timezone.now() + timedelta(seconds=5))
    job.refresh_from_db()
    assert job.state == "cancelled" and job.attempts_made == 0


def test_cancel_active_job_sets_the_request_and_stays_active(api, owner):
    job = _job(owner, state="active", attempts_made=1)
    body = api.post(f"/jobs/{job.pk}/cancel").json()
    assert body["state"] == "active" and body["cancelRequested"] is True


@pytest.mark.parametrize("state", ["completed", "failed", "cancelled"])
def test_cancel_finished_job_is_409(api, owner, state):
    job = _job(owner, state=state)
    res = api.post(f"/jobs/{job.pk}/cancel")
    assert res.status_code == 409
    assert res.json() == {
        "message": f"job {job.pk} is {state}; only waiting, delayed or active jobs can be cancelled",
        "errors": {},
    }


@pytest.mark.parametrize("state", ["failed", "cancelled"])
def test_retry_failed_or_cancelled_job_makes_it_waiting_again(api, owner, state):
    job = _job(
        owner,
        state=state,
        attempts_made=1,
        failed_reason="RuntimeError: boom",
        stacktrace="tb",
        progress=50,
        output="partial",
    )
    body = api.post(f"/jobs/{job.pk}/retry").json()
    assert body["state"] == "waiting" and body["failedReason"] is None and body["stacktrace"] is None
    assert body["progress"] == 0 and body["output"] == "" and body["attemptsMade"] == 1
    runtime.job_execute(job_id=job.pk)
    job.refresh_from_db()
    assert job.state == "completed" and job.attempts_made == 2 and job.result == {"k": 1}


@pytest.mark.parametrize("state", ["waiting", "delayed", "active", "completed"])
def test_retry_in_other_states_is_409(api, owner, state):
    job = _job(owner, state=state)
    res = api.post(f"/jobs/{job.pk}/retry")
    assert res.status_code == 409
    assert res.json()["message"] == f"job {job.pk} is {state}; only failed or cancelled jobs can be retried"


@pytest.mark.parametrize("state", ["waiting", "delayed", "completed", "failed", "cancelled"])
def test_delete_any_job_that_is_not_active(api, owner, state):
    """BullMQ's rule (the original's DELETE /jobs/:jobId): everything but an active (locked) job."""
    job = _job(owner, state=state)
    res = api.delete(f"/jobs/{job.pk}")
    assert res.status_code == 200
    assert res.json() == {"message": "Job deleted successfully", "id": str(job.pk)}
    assert not Job.objects.filter(pk=job.pk).exists()
    assert api.get(f"/jobs/{job.pk}").status_code == 404


def test_delete_active_job_is_409_naming_the_rule(api, owner):
    job = _job(owner, state="active")
    res = api.delete(f"/jobs/{job.pk}/")
    assert res.status_code == 409
    assert res.json()["message"] == (
        f"job {job.pk} is active; an active job cannot be deleted (BullMQ's rule): cancel it first"
    )
    assert Job.objects.filter(pk=job.pk).exists()


def test_other_user_gets_404_on_every_job_endpoint(other_api, owner):
    job = _job(owner, state="failed")
    not_found = {"message": "Not found.", "errors": {}}
    for method, path in [
        ("get", f"/jobs/{job.pk}"),
        ("post", f"/jobs/{job.pk}/cancel"),
        ("post", f"/jobs/{job.pk}/retry"),
        ("delete", f"/jobs/{job.pk}"),
    ]:
        res = getattr(other_api, method)(path)
        assert (method, path, res.status_code, res.json()) == (method, path, 404, not_found)
    assert other_api.get("/jobs").json()["jobs"] == []
    job.refresh_from_db()
    assert job.state == "failed"


def test_unknown_job_id_is_404(api):
    assert api.get("/jobs/999999").status_code == 404
    assert api.post("/jobs/not-a-number/cancel").status_code == 404


def test_two_mib_of_data_is_413(api):
    res = api.post("/jobs/submit", {"name": "echo", "data": {"blob": "x" * (2 * 1024 * 1024)}}, format="json")
    assert res.status_code == 413
    assert res.json()["message"] == "data: 2097163 bytes is larger than the limit of 1048576 bytes", (
        res.json()
    )
    assert Job.objects.count() == 0


def test_body_beyond_the_upload_limit_is_413_before_parsing(api):
    res = api.post("/jobs/submit", {"name": "echo", "data": "x" * (5 * 1024 * 1024)}, format="json")
    assert res.status_code == 413
    assert res.json()["message"].startswith("request body: ")


def test_stacktrace_and_logs_are_in_the_detail_only(api, owner):
    job = _job(owner, state="failed", stacktrace="Traceback ...", logs=["a"])
    detail = api.get(f"/jobs/{job.pk}").json()
    assert detail["stacktrace"] == "Traceback ..." and detail["logs"] == ["a"]
    listed = api.get("/jobs").json()["jobs"][0]
    assert "stacktrace" not in listed and "logs" not in listed
