"""Job options and actions end to end: one real worker (-c 2) and one real beat for the module."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.db import transaction

from jobs import actions, submission
from jobs.models import Job
from tests.conftest import start_beat, start_worker, wait_until
from tests.jobs.conftest import TEST_HANDLERS_ENV

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

ENGINE_ENV = {
    **TEST_HANDLERS_ENV,
    "ALLOW_PRIVATE_NETWORK_TARGETS": "1",
    "JOB_HEARTBEAT_S": "0.5",
    "JOB_STALE_AFTER_S": "5",
    "JOB_REQUEUE_WAITING_AFTER_S": "30",
    "JOB_RECONCILE_EVERY_S": "1",
    "JOB_TIMEOUT_GRACE_S": "2",
}


@pytest.fixture(scope="module")
def engine(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        worker = start_worker(name="jobs-e2e-worker", **ENGINE_ENV)
        try:
            beat = start_beat(name="jobs-e2e-beat", **ENGINE_ENV)
        except Exception:
            worker.stop()
            raise
    yield worker, beat
    beat.stop()
    worker.stop()


def _finished(job_id, timeout=20):
    def done():
        job = Job.objects.filter(pk=job_id).first()
        return job if job and job.state in ("completed", "failed", "cancelled") else None

    return wait_until(done, timeout, 0.1)


def _logs(engine):
    worker, beat = engine
    return worker.output()[-3000:] + beat.output()[-3000:]


def test_exponential_backoff_runs_attempts_at_about_0_1_3_seconds(engine, api):
    res = api.post(
        "/jobs/submit",
        {
            "name": "test.flaky",
            "data": {},
            "options": {"attempts": 3, "backoff": {"type": "exponential", "delay": 1000}},
        },
        format="json",
    )
    job = _finished(int(res.json()["jobId"]), 30)
    assert job is not None, _logs(engine)
    assert job.state == "failed" and job.attempts_made == 3
    assert job.failed_reason == "RuntimeError: attempt 3 failed on purpose"
    times = [float(line.split()[-1]) for line in job.logs]
    gaps = [round(b - a, 1) for a, b in zip(times, times[1:], strict=False)]
    assert len(times) == 3
    # Never earlier than the backoff, and the second wait twice the first (exponential, not fixed); how
    # much later a busy machine starts an attempt is not this test's business (no upper bounds).
    assert gaps[0] >= 0.9 and gaps[1] >= 1.9, gaps


def test_delay_holds_the_job_then_it_runs(engine, api):
    res = api.post(
        "/jobs/submit", {"name": "echo", "data": "later", "options": {"delay": 1500}}, format="json"
    )
    assert res.json()["state"] == "delayed"
    job = _finished(int(res.json()["jobId"]))
    assert job is not None and job.state == "completed" and job.result == "later", _logs(engine)
    assert (job.started_at - job.created_at).total_seconds() >= 1.5


def test_timeout_fails_the_job_with_a_clear_reason(engine, api):
    res = api.post(
        "/jobs/submit",
        {"name": "demo.progress", "data": {"steps": 20, "delayMs": 500}, "options": {"timeout": 1200}},
        format="json",
    )
    job = _finished(int(res.json()["jobId"]))
    assert job is not None, _logs(engine)
    assert (job.state, job.failed_reason, job.attempts_made) == ("failed", "timeout: exceeded 1200 ms", 1)
    assert "SoftTimeLimitExceeded" in job.stacktrace
    # Stopped mid-way (20 steps of 500 ms would take 10 s), whatever the machine's load: not all steps ran.
    assert job.progress is not None and job.progress < 100, job.progress


def test_cancel_active_job_the_handler_sees_it_and_the_job_ends_cancelled(engine, api):
    jid = api.post(
        "/jobs/submit", {"name": "demo.progress", "data": {"steps": 50, "delayMs": 200}}, format="json"
    ).json()["jobId"]
    assert wait_until(lambda: Job.objects.filter(pk=jid, state="active", progress__gte=2).exists(), 20), (
        _logs(engine)
    )
    res = api.post(f"/jobs/{jid}/cancel")
    assert (
        res.status_code == 200 and res.json()["state"] == "active" and res.json()["cancelRequested"] is True
    )
    job = _finished(int(jid))
    assert (job.state, job.failed_reason) == ("cancelled", "cancelled: while active")
    assert job.progress < 100 and job.result is None
    assert api.post(f"/jobs/{jid}/cancel").status_code == 409


def test_cancelled_waiting_and_delayed_jobs_never_run(engine, owner):
    with transaction.atomic():  # cancelled before its message is even published
        waiting, _ = submission.job_submit(owner=owner, name="echo", data=1)
        actions.job_cancel(job=waiting)
    delayed, _ = submission.job_submit(owner=owner, name="echo", data=2, options={"delay": 300})
    actions.job_cancel(job=delayed)
    control, _ = submission.job_submit(owner=owner, name="echo", data=3, options={"delay": 600})
    assert _finished(control.pk).state == "completed"
    for job in (waiting, delayed):
        job.refresh_from_db()
        assert (job.state, job.attempts_made, job.started_at) == ("cancelled", 0, None)


class _Echo(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 (http.server's naming)
        body = self.rfile.read(int(self.headers["Content-Length"]))
        status = 201 if self.path == "/created" else 503
        payload = json.dumps({"got": json.loads(body), "auth": self.headers.get("X-Token")}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, *args):
        pass


@pytest.fixture
def http_server():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_http_request_calls_a_local_server_when_private_targets_are_allowed(engine, api, http_server):
    data = {
        "method": "POST",
        "url": f"{http_server}/created",
        "headers": {"X-Token": "t1"},
        "body": {"n": 1},
        "timeout": 5000,
        "expectedStatuses": [201],
    }
    jid = api.post("/jobs/submit", {"name": "http.request", "data": data}, format="json").json()["jobId"]
    job = _finished(int(jid))
    assert job is not None and job.state == "completed", _logs(engine)
    assert job.result["status"] == 201 and job.result["truncated"] is False
    assert json.loads(job.result["body"]) == {"got": {"n": 1}, "auth": "t1"}
    assert job.result["headers"]["Content-Type"] == "application/json"
    bad = api.post(
        "/jobs/submit",
        {"name": "http.request", "data": {**data, "url": f"{http_server}/down"}},
        format="json",
    ).json()
    job = _finished(int(bad["jobId"]))
    assert job.state == "failed"
    assert job.failed_reason == "RuntimeError: http.request: status 503 is not one of the expected (201)"
