"""Socket.IO v4 at /socket.io/ as the original's clients use it (jobs/socketio_app.py), over both
transports, with python-socketio's real client against a real uvicorn server and a real worker."""

from __future__ import annotations

import threading

import pytest
import socketio
from rest_framework_simplejwt.tokens import RefreshToken

from accounts import services as account_services
from jobs.models import Job
from tests.conftest import wait_until

TRANSPORTS = ["polling", "websocket"]


def token(user) -> str:
    return str(RefreshToken.for_user(user).access_token)


class Recorder:
    """A python-socketio client recording every event it receives as ``(name, payload)``."""

    def __init__(self, base: str, auth: dict, transport: str):
        self.events: list[tuple[str, object]] = []
        self.lock = threading.Lock()
        self.client = socketio.Client(reconnection=False)
        self.client.on("*", self._record)
        self.client.connect(base, auth=auth, transports=[transport], wait_timeout=15)

    def _record(self, name, data=None):
        with self.lock:
            self.events.append((name, data))

    def named(self, name: str) -> list:
        with self.lock:
            return [data for event, data in self.events if event == name]

    def names(self) -> list[str]:
        with self.lock:
            return [event for event, _ in self.events]

    def close(self) -> None:
        self.client.disconnect()


def _submit(web, user, name: str, data, options=None) -> str:
    import json
    import urllib.request

    request = urllib.request.Request(
        web.base + "/submit-job",
        data=json.dumps({"name": name, "data": data, "options": options}).encode(),
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token(user)}"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=15) as response:
        assert response.status == 201
        return json.loads(response.read())["jobId"]


@pytest.mark.e2e
@pytest.mark.parametrize("transport", TRANSPORTS)
def test_connection_without_or_with_bad_credentials_is_refused_with_connect_error(
    transactional_db, live_stack, transport
):
    web, _ = live_stack
    for auth, reason in [
        ({}, "Authentication error: No credentials provided"),
        ({"token": "not.a.jwt"}, "Authentication error: invalid token or API key"),
        ({"apiKey": "jsk_0000000000000000_nope"}, "Authentication error: invalid token or API key"),
    ]:
        client = socketio.Client(reconnection=False)
        errors = []
        client.on("connect_error", errors.append)
        with pytest.raises(socketio.exceptions.ConnectionError):
            client.connect(web.base, auth=auth, transports=[transport], wait_timeout=15)
        assert errors == [{"message": reason}]


@pytest.mark.e2e
@pytest.mark.parametrize("transport", TRANSPORTS)
def test_owner_receives_its_jobs_events_with_the_originals_payload_keys(
    transactional_db, live_stack, owner, transport
):
    web, _ = live_stack
    watcher = Recorder(web.base, {"token": token(owner)}, transport)
    try:
        job_id = _submit(web, owner, "demo.progress", {"steps": 3, "delayMs": 100})
        ack = watcher.client.call("subscribe:job", job_id, timeout=15)
        assert ack == {"ok": True, "jobId": job_id}
        assert wait_until(lambda: watcher.named("job:completed"), 60), watcher.names()
        completed = watcher.named("job:completed")[0]
        keys = {"jobId", "jobName", "result", "state", "scheduleId", "queueName", "timestamp"}
        assert set(completed) == keys
        assert completed["queueName"] == "jobQueue"  # JobRunner v0.0.2's events name the queue
        assert (completed["jobId"], completed["jobName"], completed["result"]) == (
            job_id,
            "demo.progress",
            {"steps": 3},
        )
        progress = watcher.named("job:progress")
        assert progress and {"jobId", "jobName", "progress"} <= set(progress[-1])
        assert progress[-1]["progress"] == 100 and progress[-1]["jobName"] == "demo.progress"
        deltas = watcher.named("job:delta")
        assert deltas and {"jobId", "jobName", "userId", "content"} <= set(deltas[0])
        assert deltas[0]["userId"] == owner.pk
        assert "".join(d["content"] for d in deltas) == "".join(f"step {i} of 3 done\n" for i in range(1, 4))
        # the job's own room (subscribe:job): the original's job:<id>:<event> names and keys
        assert wait_until(lambda: watcher.named(f"job:{job_id}:completed"), 15)
        assert watcher.named(f"job:{job_id}:completed")[0]["result"] == {"steps": 3}
        assert {"jobId", "progress"} <= set(watcher.named(f"job:{job_id}:progress")[-1])
        assert {"jobId", "content"} <= set(watcher.named(f"job:{job_id}:delta")[0])
        # request:job-status answers with the job's real state
        watcher.client.emit("request:job-status", job_id)
        assert wait_until(lambda: watcher.named("job-status-response"), 15)
        status = watcher.named("job-status-response")[0]
        assert (status["jobId"], status["status"], status["result"]) == (job_id, "completed", {"steps": 3})

        # a custom job id (BullMQ's options.jobId) is the job's id in events, rooms and acknowledgements
        custom = f"order-{transport}"
        failing = _submit(web, owner, "test.unrecoverable", None, {"jobId": custom})
        assert failing == custom
        assert wait_until(lambda: watcher.named("job:failed"), 60), watcher.names()
        failed = watcher.named("job:failed")[0]
        assert {"jobId", "jobName", "error"} <= set(failed)
        assert (failed["jobId"], failed["error"]) == (custom, "UnrecoverableError: no point in retrying")
        assert Job.objects.get(idempotency_key=custom).state == "failed"
        assert watcher.client.call("subscribe:job", custom, timeout=15) == {"ok": True, "jobId": custom}
    finally:
        watcher.close()


@pytest.mark.e2e
@pytest.mark.parametrize("transport", TRANSPORTS)
def test_another_users_subscribe_is_refused_and_gets_nothing_of_that_job(
    transactional_db, live_stack, owner, other_user, transport
):
    web, _ = live_stack
    _, raw_key = account_services.api_key_create(owner=other_user, name="socket")
    owner_socket = Recorder(web.base, {"token": token(owner)}, transport)
    intruder = Recorder(web.base, {"apiKey": raw_key}, transport)
    try:
        job_id = _submit(web, owner, "demo.progress", {"steps": 2, "delayMs": 100})
        refusal = intruder.client.call("subscribe:job", job_id, timeout=15)
        assert refusal == {
            "ok": False,
            "event": "subscribe:job",
            "jobId": job_id,
            "message": f"jobId: no job '{job_id}' of yours",
        }
        assert wait_until(lambda: intruder.named("error"), 15)
        assert intruder.named("error")[0] == refusal
        intruder.client.emit("request:job-status", job_id)
        assert wait_until(lambda: intruder.named("job-status-response"), 15)
        assert intruder.named("job-status-response")[0]["status"] is None
        assert wait_until(
            lambda: owner_socket.named(f"job:{job_id}:completed") or owner_socket.named("job:completed"), 60
        )
        # the owner's last event has arrived; the intruder received nothing of the job meanwhile
        assert not [
            (name, data)
            for name, data in intruder.events
            if isinstance(data, dict)
            and data.get("jobId") == job_id
            and name != "error"
            and name != "job-status-response"
        ]
        assert not [name for name in intruder.names() if name.startswith("job:")]
    finally:
        owner_socket.close()
        intruder.close()
