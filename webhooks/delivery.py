"""Delivery: sending one delivery's attempts, recording outcomes and retries; the owner's actions on
deliveries (redeliver, test ping).

:func:`delivery_attempt` claims the row (pending → sending, one conditional UPDATE), writes the
attempt row, signs and POSTs, records the outcome, and decides: succeeded, retry after a backoff
(``webhooks.backoff``), or failed. Retries due soon ride on a Celery countdown; later ones wait in
the database for ``webhooks.maintenance.deliveries_send_due``, run by beat every
``WEBHOOK_RETRY_SWEEP_S``. :func:`delivery_send` runs it inside one of the owner's delivery slots.
"""

from __future__ import annotations

import json
import logging
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db.models import F
from django.utils import timezone

from config.errors import StateError

from . import backoff, signing, slots, transport
from .active import webhooks_changed
from .fanout import _create_deliveries, _new_event_id
from .models import Delivery, DeliveryAttempt, DeliveryState, Webhook

logger = logging.getLogger(__name__)

PING = "ping"
CLAIM_SLACK = timedelta(seconds=1)  # a countdown message may arrive a hair before next_attempt_at


class DeliveryStateError(StateError):
    """The delivery's state does not allow the action (the API answers 409)."""


@dataclass(frozen=True)
class AttemptOutcome:
    """What :func:`delivery_attempt` did: the delivery's new state and, for a retry due within
    ``WEBHOOK_MAX_COUNTDOWN_S``, the countdown (s) with which the caller must publish the next attempt."""

    delivery_id: int
    state: str
    requeue_in_s: float | None


def delivery_attempt(*, delivery_id: int) -> AttemptOutcome | None:
    """Make the next attempt of a pending, due delivery; ``None`` if there is nothing to do.

    Idempotent: the attempt is claimed with one conditional UPDATE (pending and due → sending), so a
    duplicated task message sends nothing. The attempt row is written before the request and
    completed after it (status, at most ``WEBHOOK_RESPONSE_BODY_MAX_BYTES`` of the body, latency ms,
    error). Retried (``webhooks.backoff``): connection errors, timeouts, 429, 5xx, up to the
    delivery's ``max_attempts``. Not retried: other 4xx, 3xx (redirects are not followed), a target
    refused by the SSRF guard at send time, a disabled webhook (automatic deliveries only).
    """
    now = timezone.now()
    claimed = Delivery.objects.filter(
        pk=delivery_id, state=DeliveryState.PENDING, next_attempt_at__lte=now + CLAIM_SLACK
    ).update(state=DeliveryState.SENDING, claimed_at=now, attempts_made=F("attempts_made") + 1)
    if not claimed:
        return None
    delivery = Delivery.objects.select_related("webhook").filter(pk=delivery_id).first()
    if delivery is None:  # its webhook was deleted in the meantime
        return None
    webhook = delivery.webhook
    attempt = DeliveryAttempt.objects.create(delivery=delivery, number=delivery.attempts_made, started_at=now)
    if not webhook.active and not delivery.manual:
        result = transport.SendResult(
            None, "", 0, f"not sent: the webhook is disabled ({webhook.disabled_reason})", True, None, None
        )
    else:
        body = json.dumps(delivery.payload, separators=(",", ":")).encode()
        stamp = int(time.time())
        headers = {
            "webhook-id": delivery.event_id,
            "webhook-timestamp": str(stamp),
            "webhook-signature": signing.sign(webhook.secret, delivery.event_id, stamp, body),
        }
        result = transport.post_json(
            webhook.url,
            body,
            headers,
            timeout_s=settings.WEBHOOK_TIMEOUT_S,
            max_body_bytes=settings.WEBHOOK_RESPONSE_BODY_MAX_BYTES,
        )
    return _record_outcome(delivery, attempt, result)


def delivery_send(*, delivery_id: int, owner_id: int | None = None) -> AttemptOutcome | None:
    """The ``deliver`` task's work: :func:`delivery_attempt` inside one of the webhook owner's delivery
    slots (``webhooks.slots``: at most ``WEBHOOK_MAX_IN_FLIGHT_PER_OWNER`` in flight per owner).

    ``owner_id`` comes with the task message (looked up when an older message lacks it). Returns
    ``None`` without sending when the owner is at the cap: the delivery stays ``pending`` and is
    published again when one of the owner's attempts ends.
    """
    if owner_id is None:
        owner_id = (
            Delivery.objects.filter(pk=delivery_id).values_list("webhook__owner_id", flat=True).first()
        )
        if owner_id is None:  # deleted with its webhook
            return None
    with slots.owner_slot(owner_id, delivery_id) as granted:
        if not granted:
            return None
        return delivery_attempt(delivery_id=delivery_id)


def _record_outcome(
    delivery: Delivery, attempt: DeliveryAttempt, result: transport.SendResult
) -> AttemptOutcome:
    status = result.status_code
    error = result.error
    if status is not None and 300 <= status < 400:
        error = f"redirect to {result.location or '(no Location)'} not followed"
    elif status is not None and not 200 <= status < 300:
        error = f"HTTP {status}"
    attempt.status_code, attempt.response_body = status, result.response_body
    attempt.latency_ms, attempt.error = result.latency_ms, error
    attempt.save(update_fields=["status_code", "response_body", "latency_ms", "error"])

    now = timezone.now()
    succeeded = status is not None and 200 <= status < 300
    retry = (
        not succeeded
        and not result.permanent
        and backoff.is_retryable(status)
        and delivery.attempts_made < delivery.max_attempts
    )
    fields: dict[str, Any] = {"last_status_code": status, "last_error": error, "claimed_at": None}
    requeue_in_s = None
    if succeeded:
        state = DeliveryState.SUCCEEDED
        fields.update(finished_at=now, next_attempt_at=None, enqueued_at=None)
    elif retry:
        state = DeliveryState.PENDING
        wait = backoff.delay_s(
            delivery.attempts_made,
            schedule=settings.WEBHOOK_BACKOFF_SCHEDULE_S,
            jitter=settings.WEBHOOK_BACKOFF_JITTER,
            retry_after_s=backoff.parse_retry_after(result.retry_after),
        )
        due = now + timedelta(seconds=wait)
        if wait <= settings.WEBHOOK_MAX_COUNTDOWN_S:
            requeue_in_s = wait
        fields.update(next_attempt_at=due, enqueued_at=due if requeue_in_s is not None else None)
    else:
        state = DeliveryState.FAILED
        fields.update(finished_at=now, next_attempt_at=None, enqueued_at=None)
    Delivery.objects.filter(pk=delivery.pk, state=DeliveryState.SENDING).update(state=state, **fields)

    webhook = delivery.webhook
    if state in (DeliveryState.SUCCEEDED, DeliveryState.FAILED):
        from jobs.throughput import record  # the Queues board's chart of the webhooks queue

        record(owner_id=webhook.owner_id, queues=["webhooks"], outcome="completed" if succeeded else "failed")
    if succeeded:
        Webhook.objects.filter(pk=webhook.pk, consecutive_failures__gt=0).update(consecutive_failures=0)
    elif state == DeliveryState.FAILED and not delivery.manual and webhook.active:
        _count_failure(webhook, error or f"HTTP {status}")
    return AttemptOutcome(delivery.pk, state, requeue_in_s)


def _count_failure(webhook: Webhook, last_error: str) -> None:
    limit = settings.WEBHOOK_DISABLE_AFTER_FAILURES
    Webhook.objects.filter(pk=webhook.pk).update(consecutive_failures=F("consecutive_failures") + 1)
    if limit > 0:
        disabled = Webhook.objects.filter(pk=webhook.pk, active=True, consecutive_failures__gte=limit).update(
            active=False,
            disabled_at=timezone.now(),
            disabled_reason=f"disabled after {limit} consecutive failed deliveries; last error: {last_error}"[
                :2000
            ],
        )
        if disabled:
            webhooks_changed()
            logger.warning("webhook %s disabled after %s consecutive failed deliveries", webhook.pk, limit)


def delivery_redeliver(*, delivery: Delivery) -> Delivery:
    """Send a finished delivery again as a new delivery with the same payload and ``webhook-id``
    (a new attempt series under the full retry policy), even if the webhook was disabled.

    Raises :class:`DeliveryStateError` while the original is still pending or sending.
    """
    if delivery.state in (DeliveryState.PENDING, DeliveryState.SENDING):
        raise DeliveryStateError("delivery: still being sent; redeliver it once it has succeeded or failed")
    (row,) = _create_deliveries(
        [delivery.webhook],
        event=delivery.event_type,
        payload=delivery.payload,
        job_id=delivery.job_id,
        event_id=delivery.event_id,
        manual=True,
        redelivery_of=delivery,
    )
    return row


def webhook_test(*, webhook: Webhook) -> Delivery:
    """Send a signed ``ping`` to the webhook now, in the caller's process, once (no retries), and
    return the recorded delivery (its state and attempt show the receiver's answer). Works on a
    disabled webhook, so an owner can check a fixed receiver before re-enabling it.

    Payload: ``{eventType: "ping", webhookId, userId, timestamp (epoch ms), message}``.
    """
    now = timezone.now()
    delivery = Delivery.objects.create(
        webhook=webhook,
        event_id=_new_event_id(),
        event_type=PING,
        job_id=None,
        payload={
            "eventType": PING,
            "webhookId": str(webhook.pk),
            "userId": webhook.owner_id,
            "timestamp": int(time.time() * 1000),
            "message": "Test delivery from the job server",
        },
        max_attempts=1,
        next_attempt_at=now,
        enqueued_at=None,
        manual=True,
    )
    delivery_attempt(delivery_id=delivery.pk)
    delivery.refresh_from_db()
    return delivery
