"""Webhook services: every write to webhooks and deliveries, the fan-out of job events, and sending.

Flow of one job event (``jobs.realtime.publish_job_event`` calls :func:`webhook_fan_out`):

1. The owner's active webhooks matching the event are looked up (one indexed query).
2. ``progress`` and ``delta`` events are coalesced in Redis per (job, event type) and window of
   ``WEBHOOK_COALESCE_WINDOW_S``: the first event of a window opens it and schedules
   ``flush_coalesced`` at its end; later events only update the buffer (the latest progress value;
   deltas appended in order). So a handler reporting progress 1000 times a second produces at most
   one progress delivery and one delta delivery per job per window. A terminal event (``completed``,
   ``failed``, ``cancelled``) flushes the job's buffers first, so its deliveries are created after
   the last progress and delta ones.
3. Other events (and flushed buffers) become one ``Delivery`` row per webhook, and a ``deliver``
   task on queue ``webhooks`` is published after commit.
4. :func:`delivery_attempt` claims the row (pending → sending, one conditional UPDATE), writes the
   attempt row, signs and POSTs, records the outcome, and decides: succeeded, retry after a backoff
   (``webhooks.backoff``), or failed. Retries due soon ride on a Celery countdown; later ones wait in
   the database for :func:`deliveries_send_due`, run by beat every ``WEBHOOK_RETRY_SWEEP_S``.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import redis
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from config import netguard
from config.errors import ConflictError
from config.redis_client import redis_client
from jobs.realtime import JOB_EVENTS

from . import backoff, signing, slots, transport
from .models import Delivery, DeliveryAttempt, DeliveryState, EventType, Webhook

logger = logging.getLogger(__name__)

COALESCED_EVENTS = ("progress", "delta")
TERMINAL_EVENTS = ("completed", "failed", "cancelled")
PING = "ping"
BUFFER_TTL_S = 3600  # a buffer whose flush task was lost still expires
CLAIM_SLACK = timedelta(seconds=1)  # a countdown message may arrive a hair before next_attempt_at
URL_MAX_LENGTH = 2000
DESCRIPTION_MAX_LENGTH = 500


class WebhookExists(ConflictError):
    """The owner already has a webhook for this url and event type (the API answers 409)."""


class DeliveryStateError(ConflictError):
    """The delivery's state does not allow the action (the API answers 409)."""


# --- webhooks ----------------------------------------------------------------------------------------


def _err(field: str, message: str, code: str) -> ValidationError:
    return ValidationError({field: [ValidationError(message, code=code)]})


def validate_webhook_input(*, url: Any, event_type: Any, description: Any) -> None:
    """Check ``url`` (http(s), resolvable, not a private network unless the operator allows it),
    ``event_type`` and ``description``; raises ``ValidationError`` naming the field with a stable code."""
    if not isinstance(url, str) or not url.strip():
        raise _err("url", "url: required, an http or https URL", "required")
    if len(url) > URL_MAX_LENGTH:
        raise _err("url", f"url: at most {URL_MAX_LENGTH} characters", "max_length")
    try:
        netguard.check_url(url.strip())
    except netguard.UnsafeTarget as exc:
        message = str(exc)
        raise _err(
            "url", message if message.startswith("url:") else f"url: {message}", "unsafe_url"
        ) from None
    if event_type not in EventType.values:
        raise _err("eventType", f"eventType: must be one of {', '.join(EventType.values)}", "invalid_choice")
    if not isinstance(description, str) or len(description) > DESCRIPTION_MAX_LENGTH:
        raise _err(
            "description", f"description: a string of at most {DESCRIPTION_MAX_LENGTH} characters", "invalid"
        )


def _save_unique(webhook: Webhook) -> None:
    try:
        with transaction.atomic():
            webhook.save()
    except IntegrityError:
        raise WebhookExists(
            f"url: you already have a webhook for {webhook.url} and eventType '{webhook.event_type}'"
        ) from None


def webhook_create(*, owner, url: str, event_type: str, description: str = "") -> Webhook:
    """Create a webhook with a fresh signing secret (``whsec_...``; the caller shows it once).

    Raises ``ValidationError`` (bad or unsafe url, unknown event type) or :class:`WebhookExists`
    for a duplicate (owner, url, event type), which a ``UniqueConstraint`` enforces.
    """
    validate_webhook_input(url=url, event_type=event_type, description=description)
    webhook = Webhook(
        owner=owner,
        url=url.strip(),
        event_type=event_type,
        description=description,
        secret=signing.generate_secret(),
    )
    _save_unique(webhook)
    return webhook


def webhook_update(
    *,
    webhook: Webhook,
    url: str | None = None,
    event_type: str | None = None,
    description: str | None = None,
    active: bool | None = None,
) -> Webhook:
    """Change any of ``url``, ``event_type``, ``description``, ``active`` (``None``: keep).

    Same rules as creation. ``active=True`` on a disabled webhook re-enables it and clears the
    failure count and reason. Raises ``ValidationError`` or :class:`WebhookExists`.
    """
    new_url = webhook.url if url is None else url
    new_type = webhook.event_type if event_type is None else event_type
    new_description = webhook.description if description is None else description
    validate_webhook_input(url=new_url, event_type=new_type, description=new_description)
    webhook.url, webhook.event_type, webhook.description = new_url.strip(), new_type, new_description
    if active is True and not webhook.active:
        webhook.active, webhook.consecutive_failures, webhook.disabled_reason, webhook.disabled_at = (
            True,
            0,
            "",
            None,
        )
    elif active is False and webhook.active:
        webhook.active, webhook.disabled_reason, webhook.disabled_at = (
            False,
            "disabled by its owner",
            timezone.now(),
        )
    _save_unique(webhook)
    return webhook


LEGACY_DESCRIPTION = "webhookUrl (legacy, from registration)"


def webhook_set_legacy_url(*, owner, url: str) -> Webhook:
    """Set ``owner``'s legacy ``webhookUrl`` (JobRunner's ``user.webhookUrl``): the one webhook with
    ``legacy=True``, subscribed to ``completed`` as the original's was, created on first use.

    It is an ordinary webhook from then on: signed, retried, logged, listed, editable. Raises
    ``ValidationError`` (``url``) or :class:`WebhookExists` (another webhook of the owner already has
    this url for ``completed``).
    """
    row = Webhook.objects.owned_by(owner).filter(legacy=True).first()
    if row is not None:
        return webhook_update(webhook=row, url=url)
    validate_webhook_input(url=url, event_type=EventType.COMPLETED, description=LEGACY_DESCRIPTION)
    webhook = Webhook(
        owner=owner,
        url=url.strip(),
        event_type=EventType.COMPLETED,
        description=LEGACY_DESCRIPTION,
        secret=signing.generate_secret(),
        legacy=True,
    )
    _save_unique(webhook)
    return webhook


def webhook_delete(*, webhook: Webhook) -> None:
    """Delete a webhook and its delivery log; its queued attempts find no row and do nothing."""
    webhook.delete()


def webhook_rotate_secret(*, webhook: Webhook) -> Webhook:
    """Replace the signing secret; attempts from now on (retries included) are signed with the new one."""
    webhook.secret = signing.generate_secret()
    webhook.save(update_fields=["secret", "updated_at"])
    return webhook


# --- fan-out and coalescing ----------------------------------------------------------------------------

def _redis() -> redis.Redis:
    return redis_client()


def _buffer_keys(job_id: int, event: str) -> tuple[str, str]:
    base = f"jobserver:webhooks:coalesce:{job_id}:{event}"
    return f"{base}:buf", f"{base}:gate"


CHANGED_CHANNEL = "jobserver:webhooks:changed"
_MAX_CACHED_OWNERS = 10_000


class _ActiveWebhooks:
    """This process's cache of each owner's active webhooks, kept fresh by Redis pub/sub.

    Every job event asks "which webhooks of this owner are active?"; answering it from the database
    cost a SELECT per event, and asking Redis for a version token cost a round trip per event (most
    owners have none). Now :func:`webhooks_changed` clears this process's cache and publishes on
    ``CHANGED_CHANNEL`` (right away and again after commit); a listener thread per process clears
    the cache on every message. The cache is trusted only while that listener is subscribed: before
    it is, and after it lost Redis, every lookup goes to the database, and each (re)subscription
    clears the cache, since changes may have been announced while it was away. A lookup that raced
    a change is not stored (``generation``), nor one made inside a transaction. Changes made without
    model signals (raw SQL, ``QuerySet.update``) must call :func:`webhooks_changed`.
    """

    lock = threading.Lock()
    generation = 0
    owners: dict[int, list[Webhook]] = {}
    subscribed = False
    listener_pid: int | None = None


def webhooks_changed() -> None:
    """Invalidate every process's cache of active webhooks (call after any change to a ``Webhook``)."""
    _changed()
    transaction.on_commit(_changed)


def _changed() -> None:
    _invalidate()
    try:
        _redis().publish(CHANGED_CHANNEL, "1")
    except redis.RedisError:
        # Listeners that lost Redis clear their caches when they subscribe again.
        logger.warning("could not announce a webhook change", exc_info=True)


def _invalidate(subscribed: bool | None = None) -> None:
    cache = _ActiveWebhooks
    with cache.lock:
        cache.generation += 1
        cache.owners = {}
        if subscribed is not None:
            cache.subscribed = subscribed


def _listen_for_changes() -> None:
    """Body of the listener thread: clear the cache on each announced change, forever."""
    client = redis.Redis.from_url(
        settings.REDIS_URL, socket_connect_timeout=5, socket_timeout=10, health_check_interval=15
    )
    while True:
        pubsub = client.pubsub()
        try:
            pubsub.subscribe(CHANGED_CHANNEL)
            while True:
                message = pubsub.get_message(timeout=5.0)
                if message is not None:
                    _invalidate(subscribed=True if message["type"] == "subscribe" else None)
        except Exception:
            _invalidate(subscribed=False)
            logger.warning("webhook change listener lost Redis; retrying in 1 s", exc_info=True)
            time.sleep(1)
        finally:
            try:
                pubsub.close()
            except Exception:
                pass


def _ensure_listener() -> None:
    cache = _ActiveWebhooks
    pid = os.getpid()
    if cache.listener_pid == pid:
        return
    with cache.lock:
        if cache.listener_pid == pid:
            return
        # A forked child inherits the parent's flags and cache but not its thread.
        cache.listener_pid, cache.subscribed, cache.owners = pid, False, {}
        threading.Thread(target=_listen_for_changes, name="webhook-changes", daemon=True).start()


def _active_webhooks(owner_id: int) -> list[Webhook]:
    _ensure_listener()
    cache = _ActiveWebhooks
    with cache.lock:
        trusted, generation = cache.subscribed, cache.generation
        hooks = cache.owners.get(owner_id) if trusted else None
    if hooks is not None:
        return hooks
    hooks = list(Webhook.objects.filter(owner_id=owner_id, active=True).order_by("id"))
    # Inside a transaction the answer may hold uncommitted rows that a rollback (which sends no
    # signal) would leave in the cache: use it for this event only.
    if trusted and not connection.in_atomic_block:
        with cache.lock:
            if cache.generation == generation and cache.subscribed:
                if len(cache.owners) >= _MAX_CACHED_OWNERS:
                    cache.owners = {}
                cache.owners[owner_id] = hooks
    return hooks


def _matching(owner_id: int, event: str) -> list[Webhook]:
    return list(
        Webhook.objects.filter(
            owner_id=owner_id, active=True, event_type__in=[event, EventType.ALL]
        ).order_by("id")
    )


def event_payload(owner_id: int, message: dict) -> dict:
    """The body of a delivery for a job event message (``jobs.realtime.job_event_message``).

    ``{id, jobId, jobname, userId, eventType, state, timestamp (epoch ms), scheduleId?, progress?,
    result?, error?, content?}``: ``id`` is the job id, as in the system we port (API.md).
    """
    payload = {
        "id": message["jobId"],
        "jobId": message["jobId"],
        "jobname": message.get("name"),
        "userId": owner_id,
        "eventType": message["event"],
        "state": message.get("state"),
        "timestamp": message.get("timestamp"),
    }
    if message.get("scheduleId") is not None:
        payload["scheduleId"] = message["scheduleId"]
    for key in ("progress", "result", "error", "content"):
        if key in message:
            payload[key] = message[key]
    return payload


def job_event_fan_out(*, job, message: dict) -> None:
    """The job events' subscriber (``jobs.realtime.subscribe``, registered in ``WebhooksConfig.ready``)."""
    webhook_fan_out(owner_id=job.owner_id, message=message, job_pk=job.pk)


def webhook_fan_out(*, owner_id: int, message: dict, job_pk: int | None = None) -> None:
    """Turn one job event into deliveries for the owner's matching webhooks (see the module doc).

    ``job_pk`` is the job's numeric id (``message["jobId"]`` is its public id, which may be a custom
    or ``repeat:`` id); without it ``message["jobId"]`` must be numeric.

    Called by ``jobs.realtime.publish_job_event`` in whatever process published the event. Never
    raises: a webhook problem must not fail a job. If Redis is unreachable, progress and delta
    events are delivered one by one instead of coalesced.
    """
    try:
        event = message.get("event")
        if event not in JOB_EVENTS:
            return
        job_id = job_pk if job_pk is not None else int(message["jobId"])
        # The common case (an owner without webhooks) is answered from this process's cache.
        active = _active_webhooks(owner_id)
        if not active:
            return
        if event in TERMINAL_EVENTS:
            for kind in COALESCED_EVENTS:
                try:
                    coalesced_flush(owner_id=owner_id, job_id=job_id, event=kind)
                except redis.RedisError:  # the final event itself must still be delivered
                    logger.warning("could not flush buffered %s of job %s", kind, job_id, exc_info=True)
        hooks = [hook for hook in active if hook.event_type in (event, EventType.ALL)]
        if not hooks:
            return
        if event in COALESCED_EVENTS and settings.WEBHOOK_COALESCE_WINDOW_S > 0:
            try:
                _buffer(owner_id, job_id, event, message)
                return
            except redis.RedisError:
                logger.warning(
                    "webhook coalescing unavailable; delivering %s uncoalesced", event, exc_info=True
                )
        _create_deliveries(hooks, event=event, payload=event_payload(owner_id, message), job_id=job_id)
    except Exception:
        logger.exception("webhook fan-out of %s failed", message.get("event"))


def _buffer(owner_id: int, job_id: int, event: str, message: dict) -> None:
    from .tasks import flush_coalesced

    buf, gate = _buffer_keys(job_id, event)
    window_s = settings.WEBHOOK_COALESCE_WINDOW_S
    pipe = _redis().pipeline(transaction=True)
    if event == "progress":
        pipe.set(buf, json.dumps(message), ex=BUFFER_TTL_S)
    else:
        pipe.rpush(buf, json.dumps(message))
        pipe.expire(buf, BUFFER_TTL_S)
    # The gate only expires, it is never deleted, so at most one window opens per window_s however
    # late flush tasks run. No event is stranded: the buffer is written before the gate is tried,
    # and the window's flush runs after the gate expired (its countdown starts after the gate was
    # set), so an event that finds the gate held is read by that flush.
    pipe.set(gate, "1", nx=True, px=max(1, int(window_s * 1000)))
    opened = pipe.execute()[-1]
    if opened:
        flush_coalesced.apply_async(args=[owner_id, job_id, event], countdown=window_s)


def coalesced_flush(*, owner_id: int, job_id: int, event: str) -> int:
    """Turn the buffered ``progress`` or ``delta`` events of one job into deliveries; returns how many.

    Progress: one delivery with the latest value. Delta: one delivery whose ``content`` is all
    buffered deltas concatenated in order (other fields from the last one). Safe to run twice.
    """
    buf, _ = _buffer_keys(job_id, event)
    pipe = _redis().pipeline(transaction=True)
    if event == "progress":
        pipe.get(buf)
    else:
        pipe.lrange(buf, 0, -1)
    pipe.delete(buf)
    raw = pipe.execute()[0]
    if not raw:
        return 0
    if event == "progress":
        message = json.loads(raw)
    else:
        parts = [json.loads(item) for item in raw]
        message = {**parts[-1], "content": "".join(str(p.get("content", "")) for p in parts)}
    hooks = _matching(owner_id, event)
    if not hooks:
        return 0
    return len(
        _create_deliveries(hooks, event=event, payload=event_payload(owner_id, message), job_id=job_id)
    )


def _new_event_id() -> str:
    return f"msg_{uuid.uuid4().hex}"


def _create_deliveries(
    hooks: list[Webhook],
    *,
    event: str,
    payload: dict,
    job_id: int | None,
    event_id: str | None = None,
    manual: bool = False,
    redelivery_of: Delivery | None = None,
) -> list[Delivery]:
    from .tasks import deliver

    now = timezone.now()
    rows = [
        Delivery(
            webhook=hook,
            event_id=event_id or _new_event_id(),
            event_type=event,
            job_id=job_id,
            payload=payload,
            max_attempts=max(1, settings.WEBHOOK_MAX_ATTEMPTS),
            next_attempt_at=now,
            enqueued_at=now,
            manual=manual,
            redelivery_of=redelivery_of,
        )
        for hook in hooks
    ]
    with transaction.atomic():  # a savepoint when the event is published inside someone's transaction
        Delivery.objects.bulk_create(rows)
        messages = [(row.pk, row.webhook.owner_id) for row in rows]
        transaction.on_commit(
            lambda: [deliver.apply_async(args=[pk], kwargs={"owner_id": owner}) for pk, owner in messages]
        )
    return rows


# --- sending ---------------------------------------------------------------------------------------------


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


def deliveries_send_due(*, batch_size: int = 500) -> int:
    """Publish the deliveries whose next attempt is due and has no live task message; returns how many.

    Run by beat every ``WEBHOOK_RETRY_SWEEP_S``. Covers retries later than
    ``WEBHOOK_MAX_COUNTDOWN_S`` (kept off the broker: Redis redelivers unacknowledged messages
    after its 1 h visibility timeout), messages lost with a broker, and attempts interrupted by a
    worker that died mid-request (``sending`` for over ``WEBHOOK_STALE_SENDING_S``).
    """
    from .tasks import deliver

    now = timezone.now()
    stale = Delivery.objects.filter(
        state=DeliveryState.SENDING, claimed_at__lt=now - timedelta(seconds=settings.WEBHOOK_STALE_SENDING_S)
    )
    interrupted = "attempt interrupted: the worker stopped before recording an outcome"
    stale.filter(attempts_made__gte=F("max_attempts")).update(
        state=DeliveryState.FAILED, finished_at=now, claimed_at=None, last_error=interrupted
    )
    stale.update(
        state=DeliveryState.PENDING,
        next_attempt_at=now,
        enqueued_at=None,
        claimed_at=None,
        last_error=interrupted,
    )
    late = now - timedelta(seconds=settings.WEBHOOK_RETRY_GRACE_S)
    due = list(
        Delivery.objects.filter(state=DeliveryState.PENDING, next_attempt_at__lte=now)
        .filter(Q(enqueued_at__isnull=True) | Q(enqueued_at__lte=late))
        .order_by("next_attempt_at")
        .values_list("pk", "webhook__owner_id")[:batch_size]
    )
    if due:
        Delivery.objects.filter(pk__in=[pk for pk, _ in due], state=DeliveryState.PENDING).update(
            enqueued_at=now
        )
        for pk, owner_id in due:
            deliver.apply_async(args=[pk], kwargs={"owner_id": owner_id})
    return len(due)


def deliveries_prune(*, batch_size: int = 1000) -> int:
    """Delete finished deliveries (and their attempts) older than ``WEBHOOK_DELIVERY_RETENTION_DAYS``.

    Run hourly by beat; at most ``batch_size`` per run so one run never holds a long lock.
    Pending deliveries are kept whatever their age. Returns how many deliveries were deleted.
    """
    days = settings.WEBHOOK_DELIVERY_RETENTION_DAYS
    if days <= 0:
        return 0
    cutoff = timezone.now() - timedelta(days=days)
    ids = list(
        Delivery.objects.filter(
            state__in=(DeliveryState.SUCCEEDED, DeliveryState.FAILED), created_at__lt=cutoff
        ).values_list("pk", flat=True)[:batch_size]
    )
    if not ids:
        return 0
    # Attempts go with them (CASCADE); redeliveries of them keep their rows (SET_NULL).
    return Delivery.objects.filter(pk__in=ids).delete()[1].get("webhooks.Delivery", 0)


# --- owner actions ------------------------------------------------------------------------------------


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
