"""A job run by a real worker streams its events in order to its owner only; bursts are coalesced."""

import time

import pytest

from jobs.api.serializers import job_to_dict
from jobs.models import Job
from jobs.realtime import publish_job_event

pytestmark = [pytest.mark.django_db(transaction=True)]

STEPS = 4
TEXT = "".join(f"step {i} of {STEPS} done\n" for i in range(1, STEPS + 1))


@pytest.mark.e2e
def test_worker_job_events_reach_owner_in_order_and_nobody_else(api, owner, other_user, worker, live_socket):
    mine, theirs = live_socket(owner), live_socket(other_user)
    res = api.post(
        "/jobs/submit", {"name": "demo.progress", "data": {"steps": STEPS, "delayMs": 100}}, format="json"
    )
    assert res.status_code == 201
    job_id = res.json()["jobId"]

    theirs.send({"action": "subscribe", "jobId": job_id})
    assert theirs.receive() == {
        "event": "error",
        "message": f"jobId: no job '{job_id}' of yours",
        "jobId": job_id,
    }

    events = mine.receive_until(lambda m: m["event"] in ("completed", "failed"), timeout=60)
    assert {m["jobId"] for m in events} == {job_id}
    names = [m["event"] for m in events]
    # "waiting" is published by the web process after the message is queued (jobs.publishing.job_enqueue),
    # so it may land after the worker's "active"; every event from the worker is in order.
    assert names.count("waiting") == 1
    assert [n for n in names if n not in ("progress", "delta", "waiting")] == ["active", "completed"], names
    assert names.index("active") < names.index("progress") and names[-1] == "completed"
    progress = [m["progress"] for m in events if m["event"] == "progress"]
    assert progress == sorted(set(progress)) and progress[-1] == 100
    assert "".join(m["content"] for m in events if m["event"] == "delta") == TEXT
    assert events[-1]["result"] == {"steps": STEPS} and events[-1]["state"] == "completed"
    assert theirs.nothing(0.5)

    # A page that reconnects resyncs by snapshot: the answer is the job as stored.
    mine.close()
    again = live_socket(owner)
    again.send({"action": "snapshot", "jobId": job_id})
    snapshot = again.receive()
    stored = Job.objects.get(pk=job_id)
    assert snapshot == {**job_to_dict(stored), "event": "snapshot"}
    assert (snapshot["state"], snapshot["progress"], snapshot["output"]) == ("completed", 100, TEXT)


def test_a_burst_of_1000_deltas_arrives_whole_in_far_fewer_messages(live_socket, owner):
    job = Job.objects.create(owner=owner, name="demo.progress", data={}, state="active")
    sock = live_socket(owner)
    sock.send({"action": "subscribe", "jobId": str(job.pk)})
    assert sock.receive()["event"] == "subscribed"
    text = []
    # A handler streaming about 1,000 deltas a second, with a progress report every 100.
    for i in range(1000):
        text.append(f"token-{i} ")
        publish_job_event(job, "delta", content=text[-1])
        if i % 100 == 99:
            publish_job_event(job, "progress", progress=(i + 1) // 10)
        time.sleep(0.001)
    publish_job_event(job, "completed", result={"tokens": 1000})

    events = sock.receive_until(lambda m: m["event"] == "completed", timeout=30)
    deltas = [m for m in events if m["event"] == "delta"]
    progress = [m["progress"] for m in events if m["event"] == "progress"]
    assert "".join(m["content"] for m in deltas) == "".join(text)
    assert len(deltas) < 200, len(deltas)  # about 20 a second at the default 50 ms window
    assert progress == sorted(set(progress)) and progress[-1] == 100
    assert events[-1] == {**events[-1], "event": "completed", "result": {"tokens": 1000}}
    assert sock.nothing(0.3)
