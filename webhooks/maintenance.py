"""Maintenance of deliveries, run by beat: publish due retries (and rescue lost or interrupted
attempts), prune old finished deliveries."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db.models import F, Q
from django.utils import timezone

from .models import Delivery, DeliveryState


def deliveries_send_due(*, batch_size: int = 500) -> int:
    """Publish the deliveries whose next attempt is due and has no live task message; returns how many.

    Run by beat every ``WEBHOOK_RETRY_SWEEP_S``. Covers retries later than
    ``WEBHOOK_MAX_COUNTDOWN_S`` (kept off the broker: Redis redelivers unacknowledged messages
    after its 1 h visibility timeout), messages lost with a broker, and attempts interrupted by a
    worker that died mid-request (``sending`` for over ``WEBHOOK_STALE_SENDING_S``).
    """
    from .tasks import delivery_send as send_task

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
            send_task.apply_async(args=[pk], kwargs={"owner_id": owner_id})
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
