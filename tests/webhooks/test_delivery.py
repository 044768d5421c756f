"""Sending one delivery attempt in-process to a real loopback receiver: signing, outcomes, retry
decisions, SSRF at send time, disabling, the test ping and redelivery through the API."""

import json
from datetime import timedelta

import pytest
from django.test import override_settings
from django.utils import timezone

from webhooks import services, signing
from webhooks.models import Delivery, DeliveryState, Webhook

pytestmark = pytest.mark.django_db

ALLOW = override_settings(ALLOW_PRIVATE_NETWORK_TARGETS=True, WEBHOOK_BACKOFF_JITTER=0.0)


@pytest.fixture(autouse=True)
def _allow_loopback():
    with ALLOW:
        yield


def _webhook(owner, receiver, event_type="completed", path="/hook"):
    return services.webhook_create(owner=owner, url=receiver.url(path), event_type=event_type)


def _delivery(webhook, payload=None, **extra):
    fields = {"event_id": "msg_test1", "event_type": "completed", "job_id": 7, "max_attempts": 8, **extra}
    return Delivery.objects.create(
        webhook=webhook,
        payload=payload if payload is not None else {"id": "7", "eventType": "completed"},
        next_attempt_at=timezone.now(),
        **fields,
    )


def test_a_delivery_is_a_signed_json_post_that_verifies_only_with_its_secret(owner, receiver):
    hook = _webhook(owner, receiver)
    row = _delivery(hook, payload={"id": "7", "eventType": "completed", "result": {"ok": True}})
    outcome = services.delivery_attempt(delivery_id=row.pk)
    assert (outcome.state, outcome.requeue_in_s) == ("succeeded", None)
    ((path, headers, body),) = receiver.requests
    assert path == "/hook" and headers["content-type"] == "application/json"
    assert json.loads(body) == {"id": "7", "eventType": "completed", "result": {"ok": True}}
    assert headers["webhook-id"] == "msg_test1"
    assert signing.verify(hook.secret, headers, body) is True
    assert signing.verify(signing.generate_secret(), headers, body) is False
    row.refresh_from_db()
    assert (row.state, row.attempts_made, row.last_status_code, row.last_error) == ("succeeded", 1, 200, "")
    (attempt,) = row.attempts.all()
    assert (attempt.number, attempt.status_code, attempt.response_body, attempt.error) == (
        1,
        200,
        "answer 200",
        "",
    )
    assert attempt.latency_ms >= 0


def test_a_400_is_recorded_and_not_retried(owner, receiver):
    receiver.plan = [400]
    row = _delivery(_webhook(owner, receiver))
    outcome = services.delivery_attempt(delivery_id=row.pk)
    assert (outcome.state, outcome.requeue_in_s) == ("failed", None)
    row.refresh_from_db()
    assert (row.state, row.attempts_made, row.last_status_code, row.last_error) == (
        "failed",
        1,
        400,
        "HTTP 400",
    )
    assert row.finished_at is not None and row.next_attempt_at is None
    assert services.delivery_attempt(delivery_id=row.pk) is None
    assert len(receiver.requests) == 1


def test_a_500_schedules_a_retry_after_the_backoff_and_a_duplicate_message_sends_nothing(owner, receiver):
    receiver.plan = [500]
    row = _delivery(_webhook(owner, receiver))
    before = timezone.now()
    outcome = services.delivery_attempt(delivery_id=row.pk)
    assert (outcome.state, outcome.requeue_in_s) == ("pending", 5.0)
    row.refresh_from_db()
    assert row.state == "pending" and row.attempts_made == 1 and row.last_error == "HTTP 500"
    assert before + timedelta(seconds=5) <= row.next_attempt_at <= timezone.now() + timedelta(seconds=5)
    assert row.enqueued_at == row.next_attempt_at
    assert services.delivery_attempt(delivery_id=row.pk) is None  # not due yet
    assert len(receiver.requests) == 1


def test_retry_after_of_a_429_is_honoured(owner, receiver):
    receiver.plan = [429]
    receiver.headers_out = {"Retry-After": "120"}
    row = _delivery(_webhook(owner, receiver))
    assert services.delivery_attempt(delivery_id=row.pk).requeue_in_s == 120.0


def test_the_last_attempt_fails_the_delivery_and_counts_against_the_webhook(owner, receiver):
    receiver.plan = [503]
    hook = _webhook(owner, receiver)
    row = _delivery(hook, attempts_made=7)
    assert services.delivery_attempt(delivery_id=row.pk).state == "failed"
    row.refresh_from_db()
    assert (row.attempts_made, row.last_status_code) == (8, 503)
    hook.refresh_from_db()
    assert (hook.consecutive_failures, hook.active) == (1, True)


def test_a_connection_error_is_retried_with_the_error_recorded(owner, receiver):
    hook = _webhook(owner, receiver)
    receiver.stop()
    row = _delivery(hook)
    assert services.delivery_attempt(delivery_id=row.pk).state == "pending"
    (attempt,) = row.attempts.all()
    assert attempt.status_code is None and attempt.latency_ms >= 0
    assert attempt.error.startswith("NewConnectionError: ") and "Connection refused" in attempt.error


def test_the_response_body_kept_is_bounded(owner, receiver):
    receiver.answer = b"x" * 10_000
    row = _delivery(_webhook(owner, receiver))
    services.delivery_attempt(delivery_id=row.pk)
    assert row.attempts.get().response_body == "x" * 2048


def test_redirects_are_not_followed(owner, receiver):
    receiver.plan = [302]
    receiver.headers_out = {"Location": receiver.url("/elsewhere")}
    row = _delivery(_webhook(owner, receiver))
    assert services.delivery_attempt(delivery_id=row.pk).state == "failed"
    row.refresh_from_db()
    assert row.last_error == f"redirect to {receiver.url('/elsewhere')} not followed"
    assert [p for p, _, _ in receiver.requests] == ["/hook"]


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_a_private_target_is_refused_at_send_time_and_not_retried(owner, receiver, host):
    hook = _webhook(owner, receiver)
    Webhook.objects.filter(pk=hook.pk).update(url=f"http://{host}:{receiver.port}/hook")
    row = _delivery(hook)
    with override_settings(ALLOW_PRIVATE_NETWORK_TARGETS=False):
        outcome = services.delivery_attempt(delivery_id=row.pk)
    assert (outcome.state, outcome.requeue_in_s) == ("failed", None)
    row.refresh_from_db()
    assert row.last_error.startswith(f"refused: url: host '{host}' resolves to a private, loopback")
    assert row.attempts.get().error == row.last_error
    assert receiver.requests == []


@override_settings(WEBHOOK_DISABLE_AFTER_FAILURES=2)
def test_consecutive_failed_deliveries_disable_the_webhook_and_a_success_resets_the_count(owner, receiver):
    hook = _webhook(owner, receiver)
    receiver.plan = [410, 200, 410, 410]
    for n in range(4):
        services.delivery_attempt(delivery_id=_delivery(hook, event_id=f"msg_{n}").pk)
        hook.refresh_from_db()
        assert (hook.consecutive_failures, hook.active) == [(1, True), (0, True), (1, True), (2, False)][n]
    assert hook.disabled_reason == "disabled after 2 consecutive failed deliveries; last error: HTTP 410"
    later = _delivery(hook, event_id="msg_later")
    services.delivery_attempt(delivery_id=later.pk)
    later.refresh_from_db()
    assert (later.state, later.last_error) == (
        "failed",
        f"not sent: the webhook is disabled ({hook.disabled_reason})",
    )
    assert len(receiver.requests) == 4


def test_the_test_endpoint_sends_a_signed_ping_now(api, owner, receiver):
    hook = _webhook(owner, receiver)
    res = api.post(f"/webhooks/{hook.pk}/test")
    assert res.status_code == 200
    delivery = res.json()["delivery"]
    assert (delivery["eventType"], delivery["state"], delivery["attemptsMade"]) == ("ping", "succeeded", 1)
    assert delivery["attempts"][0]["statusCode"] == 200
    ((_, headers, body),) = receiver.requests
    assert headers["webhook-id"] == delivery["eventId"]
    assert signing.verify(hook.secret, headers, body) is True
    assert json.loads(body)["eventType"] == "ping" and json.loads(body)["webhookId"] == str(hook.pk)


def test_a_failing_test_ping_is_tried_once_and_reported(api, owner, receiver):
    receiver.plan = [500]
    hook = _webhook(owner, receiver)
    delivery = api.post(f"/webhooks/{hook.pk}/test").json()["delivery"]
    assert (delivery["state"], delivery["attemptsMade"], delivery["lastStatusCode"]) == ("failed", 1, 500)
    hook.refresh_from_db()
    assert hook.consecutive_failures == 0  # pings do not count towards disabling


def test_redeliver_sends_the_same_payload_and_id_as_a_new_delivery(api, owner, receiver):
    receiver.plan = [400]
    hook = _webhook(owner, receiver)
    first = _delivery(hook)
    services.delivery_attempt(delivery_id=first.pk)
    res = api.post(f"/webhooks/{hook.pk}/deliveries/{first.pk}/redeliver/")
    assert res.status_code == 202
    new = res.json()["delivery"]
    assert (new["state"], new["redeliveryOf"], new["eventId"], new["manual"]) == (
        "pending",
        str(first.pk),
        "msg_test1",
        True,
    )
    services.delivery_attempt(delivery_id=int(new["id"]))
    assert [h["webhook-id"] for _, h, _ in receiver.requests] == ["msg_test1", "msg_test1"]
    assert receiver.requests[0][2] == receiver.requests[1][2]
    listed = api.get(f"/webhooks/{hook.pk}/deliveries").json()["deliveries"]
    assert [(d["id"], d["state"]) for d in listed] == [(new["id"], "succeeded"), (str(first.pk), "failed")]


@override_settings(WEBHOOK_MAX_COUNTDOWN_S=0)
def test_long_retries_wait_in_the_database_for_the_sweep(owner, receiver):
    receiver.plan = [500]
    row = _delivery(_webhook(owner, receiver))
    assert services.delivery_attempt(delivery_id=row.pk).requeue_in_s is None
    row.refresh_from_db()
    assert row.enqueued_at is None
    assert services.deliveries_send_due() == 0  # not due yet
    Delivery.objects.filter(pk=row.pk).update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    assert services.deliveries_send_due() == 1
    assert services.deliveries_send_due() == 0  # published once, not again within the grace period
    row.refresh_from_db()
    assert row.enqueued_at is not None


def test_the_sweep_retries_an_attempt_whose_worker_died(owner, receiver):
    row = _delivery(
        _webhook(owner, receiver),
        state=DeliveryState.SENDING,
        attempts_made=1,
        claimed_at=timezone.now() - timedelta(minutes=10),
    )
    assert services.deliveries_send_due() == 1
    row.refresh_from_db()
    assert row.state == "pending"
    assert row.last_error == "attempt interrupted: the worker stopped before recording an outcome"
    assert services.delivery_attempt(delivery_id=row.pk).state == "succeeded"


@override_settings(WEBHOOK_DELIVERY_RETENTION_DAYS=30)
def test_finished_deliveries_past_the_retention_are_pruned(owner, receiver):
    hook = _webhook(owner, receiver)
    old_done = _delivery(hook, state=DeliveryState.SUCCEEDED)
    old_pending = _delivery(hook)
    recent = _delivery(hook, state=DeliveryState.FAILED)
    redelivery = _delivery(hook, state=DeliveryState.SUCCEEDED, redelivery_of=old_done)
    old_done.attempts.create(number=1, started_at=timezone.now(), status_code=200)
    Delivery.objects.filter(pk__in=[old_done.pk, old_pending.pk]).update(
        created_at=timezone.now() - timedelta(days=31)
    )
    assert services.deliveries_prune() == 1
    assert set(Delivery.objects.values_list("pk", flat=True)) == {old_pending.pk, recent.pk, redelivery.pk}
    redelivery.refresh_from_db()
    assert redelivery.redelivery_of is None
