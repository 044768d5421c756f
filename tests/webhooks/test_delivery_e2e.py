"""Jobs run by a real worker produce signed deliveries at a real receiver, retried with backoff.

One worker for the whole module (its env shortens the backoff to 0.5 s, 1 s, ... and the
coalescing window to 0.5 s, and allows loopback targets). Redis is not flushed between these tests,
because flushing would also drop the queue bindings of the running worker; stale task messages of
an earlier test find no delivery row and do nothing.
"""

import math
import socket
import time

import pytest
import redis
from django.conf import settings
from django.test import override_settings

from jobs.models import Job
from jobs.realtime import publish_job_event
from tests.conftest import start_worker, wait_until
from tests.webhooks.conftest import Receiver
from webhooks import signing
from webhooks.models import Delivery, DeliveryAttempt

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

ALLOW = override_settings(ALLOW_PRIVATE_NETWORK_TARGETS=True)


@pytest.fixture(autouse=True)
def _clean_redis():
    """Overrides the suite's flush (see the module doc): only our coalescing keys are removed."""
    client = redis.Redis.from_url(settings.REDIS_URL)
    for key in client.scan_iter("jobserver:webhooks:*"):
        client.delete(key)
    yield


@pytest.fixture(scope="module")
def webhook_worker(django_db_setup, django_db_blocker):
    proc = start_worker(
        name="webhooks-worker",
        ALLOW_PRIVATE_NETWORK_TARGETS="1",
        WEBHOOK_BACKOFF_SCHEDULE_S="0.5,1,1,1,1,1,1",
        WEBHOOK_BACKOFF_JITTER="0",
        WEBHOOK_COALESCE_WINDOW_S="0.5",
    )
    yield proc
    proc.stop()


def _webhook(api, url, event_type):
    with ALLOW:
        res = api.post("/webhooks", {"url": url, "eventType": event_type}, format="json")
    assert res.status_code == 201
    return res.json()["webhook"]


def _submit(api, name="echo", data=None):
    res = api.post(
        "/jobs/submit", {"name": name, "data": data if data is not None else {"n": 1}}, format="json"
    )
    assert res.status_code == 201
    return res.json()["jobId"]


def _states():
    return list(
        Delivery.objects.order_by("id").values_list("event_type", "state", "attempts_made", "last_error")
    )


def test_500_twice_then_200_makes_exactly_three_attempts_with_one_id(api, webhook_worker, receiver):
    receiver.plan = [500, 500]
    hook = _webhook(api, receiver.url(), "completed")
    job_id = _submit(api)
    done = wait_until(lambda: Delivery.objects.filter(state="succeeded").exists(), 30)
    assert done, webhook_worker.output()[-3000:]
    row = Delivery.objects.get()
    assert (row.state, row.attempts_made, row.job_id) == ("succeeded", 3, int(job_id))
    assert [(a.number, a.status_code) for a in row.attempts.all()] == [(1, 500), (2, 500), (3, 200)]
    assert len(receiver.requests) == 3
    assert {h["webhook-id"] for _, h, _ in receiver.requests} == {row.event_id}
    for _, headers, body in receiver.requests:
        assert signing.verify(hook["secret"], headers, body) is True
        assert signing.verify(signing.generate_secret(), headers, body) is False
    assert wait_until(lambda: len(receiver.requests) > 3, 2.5) is False  # nothing after the success
    payload = receiver.bodies()[0]
    assert (payload["id"], payload["jobId"], payload["jobname"], payload["eventType"]) == (
        job_id,
        job_id,
        "echo",
        "completed",
    )
    assert payload["result"] == {"n": 1}


def test_a_receiver_down_for_a_while_still_gets_the_event(api, webhook_worker):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    late = Receiver(port=port)
    try:
        _webhook(api, late.url(), "completed")
        _submit(api)
        refused = DeliveryAttempt.objects.filter(error__contains="Connection refused")
        assert wait_until(lambda: refused.count() >= 2, 30), webhook_worker.output()[-3000:]
        late.start()
        assert wait_until(lambda: Delivery.objects.filter(state="succeeded").exists(), 30)
        row = Delivery.objects.get()
        attempts = list(row.attempts.all())
        assert attempts[-1].status_code == 200 and len(attempts) == row.attempts_made >= 3, attempts
        assert all(a.status_code is None and "Connection refused" in a.error for a in attempts[:-1])
        assert len(late.requests) == 1
    finally:
        late.stop()


def test_a_400_is_not_retried_and_a_redelivery_succeeds(api, webhook_worker, receiver):
    receiver.plan = [400]
    hook = _webhook(api, receiver.url(), "completed")
    _submit(api)
    assert wait_until(lambda: Delivery.objects.filter(state="failed").exists(), 30)
    assert wait_until(lambda: len(receiver.requests) > 1, 2) is False
    first = Delivery.objects.get()
    assert (first.attempts_made, first.last_status_code) == (1, 400)
    res = api.post(f"/webhooks/{hook['id']}/deliveries/{first.pk}/redeliver")
    assert res.status_code == 202
    assert wait_until(lambda: Delivery.objects.filter(state="succeeded").exists(), 30)
    assert [h["webhook-id"] for _, h, _ in receiver.requests] == [first.event_id, first.event_id]
    assert receiver.requests[0][2] == receiver.requests[1][2]


def test_a_real_job_reaches_an_all_webhook_and_a_completed_one_with_its_own_secret(
    api, webhook_worker, receiver
):
    everything = _webhook(api, receiver.url("/all"), "all")
    completions = _webhook(api, receiver.url("/done"), "completed")
    job_id = _submit(api, data={"msg": "hi"})
    assert wait_until(lambda: len(receiver.requests) == 4, 30), (_states(), webhook_worker.output()[-3000:])
    assert sorted(b["eventType"] for b in receiver.bodies("/all")) == ["active", "completed", "waiting"]
    assert receiver.bodies("/done") == [
        {
            "id": job_id,
            "jobId": job_id,
            "jobname": "echo",
            "queueName": "jobQueue",
            "userId": Job.objects.get().owner_id,
            "eventType": "completed",
            "state": "completed",
            "timestamp": receiver.bodies("/done")[0]["timestamp"],
            "result": {"msg": "hi"},
        }
    ]
    for path, headers, body in receiver.requests:
        secret = everything["secret"] if path == "/all" else completions["secret"]
        assert signing.verify(secret, headers, body) is True


@override_settings(WEBHOOK_COALESCE_WINDOW_S=0.5)
def test_a_hundred_quick_progress_events_give_few_deliveries_and_the_last_value(
    api, owner, webhook_worker, receiver
):
    _webhook(api, receiver.url(), "progress")
    job = Job.objects.create(owner=owner, name="echo", data=None)
    started = time.monotonic()
    for value in range(1, 101):
        publish_job_event(job, "progress", progress=value)
    elapsed = time.monotonic() - started
    assert wait_until(lambda: 100 in [b["progress"] for b in receiver.bodies()], 30), _states()
    assert wait_until(lambda: not Delivery.objects.exclude(state="succeeded").exists(), 10), _states()
    values = [b["progress"] for b in receiver.bodies()]
    # At most one delivery per 0.5 s window opened while the events were published.
    assert 1 <= len(values) <= math.floor(elapsed / 0.5) + 1 < 100
    assert sorted(values)[-1] == 100 and len(set(values)) == len(values)
