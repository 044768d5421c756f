"""Reads of webhooks and deliveries, always scoped to the acting user (another user's, or an id that is
not one (``config.ids``): ``Http404``)."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404

from config.ids import id_or_404

from .models import Delivery, DeliveryState, Webhook


def webhook_list(*, user):
    """The user's webhooks, oldest first."""
    return Webhook.objects.owned_by(user).order_by("id")


def webhook_get(*, user, webhook_id) -> Webhook:
    """The user's webhook ``webhook_id``; ``Http404`` if it does not exist or belongs to someone else."""
    return get_object_or_404(Webhook.objects.owned_by(user), pk=id_or_404(webhook_id))


def delivery_list(*, user, webhook_id, state: str | None = None):
    """Deliveries of the user's webhook ``webhook_id``, newest first, with their attempts prefetched."""
    webhook = webhook_get(user=user, webhook_id=webhook_id)
    qs = Delivery.objects.filter(webhook=webhook).select_related("webhook").prefetch_related("attempts")
    if state:
        if state not in DeliveryState.values:
            raise ValidationError({"state": [f"state: must be one of {', '.join(DeliveryState.values)}"]})
        qs = qs.filter(state=state)
    return qs.order_by("-id")


def delivery_get(*, user, webhook_id, delivery_id) -> Delivery:
    """Delivery ``delivery_id`` of the user's webhook ``webhook_id``; ``Http404`` otherwise."""
    webhook = webhook_get(user=user, webhook_id=webhook_id)
    return get_object_or_404(
        Delivery.objects.filter(webhook=webhook).select_related("webhook").prefetch_related("attempts"),
        pk=id_or_404(delivery_id),
    )
