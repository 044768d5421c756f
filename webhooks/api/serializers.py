"""Shapes of webhooks and deliveries on the wire (API.md: Webhooks). Times are ISO 8601 UTC."""

from __future__ import annotations

from rest_framework import serializers

from config.serializers import StrictCharField

from .. import signing
from ..models import Delivery, EventType, Webhook


def iso(value) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def webhook_to_dict(webhook: Webhook, *, include_secret: bool = False) -> dict:
    """``{id, url, eventType, description, active, disabledReason, disabledAt, consecutiveFailures,
    createdAt, updatedAt}`` plus ``secret`` only right after creation or rotation (shown once)."""
    body = {
        "id": str(webhook.pk),
        "url": webhook.url,
        "eventType": webhook.event_type,
        "description": webhook.description,
        "active": webhook.active,
        "disabledReason": webhook.disabled_reason or None,
        "disabledAt": iso(webhook.disabled_at),
        "consecutiveFailures": webhook.consecutive_failures,
        "createdAt": iso(webhook.created_at),
        "updatedAt": iso(webhook.updated_at),
    }
    if include_secret:
        body["secret"] = webhook.secret
        body["standardSecret"] = signing.standard_secret(webhook.secret)
    return body


def delivery_to_dict(delivery: Delivery) -> dict:
    """``{id, webhookId, eventId (the webhook-id header), eventType, jobId, state, attemptsMade,
    maxAttempts, nextAttemptAt, lastStatusCode, lastError, manual, redeliveryOf, createdAt, finishedAt,
    payload, attempts: [{number, at, statusCode, responseBody, latencyMs, error}]}``."""
    return {
        "id": str(delivery.pk),
        "webhookId": str(delivery.webhook_id),
        "eventId": delivery.event_id,
        "eventType": delivery.event_type,
        "jobId": str(delivery.job_id) if delivery.job_id is not None else None,
        "state": delivery.state,
        "attemptsMade": delivery.attempts_made,
        "maxAttempts": delivery.max_attempts,
        "nextAttemptAt": iso(delivery.next_attempt_at) if delivery.state == "pending" else None,
        "lastStatusCode": delivery.last_status_code,
        "lastError": delivery.last_error or None,
        "manual": delivery.manual,
        "redeliveryOf": str(delivery.redelivery_of_id) if delivery.redelivery_of_id else None,
        "createdAt": iso(delivery.created_at),
        "finishedAt": iso(delivery.finished_at),
        "payload": delivery.payload,
        "attempts": [
            {
                "number": a.number,
                "at": iso(a.started_at),
                "statusCode": a.status_code,
                "responseBody": a.response_body,
                "latencyMs": a.latency_ms,
                "error": a.error or None,
            }
            for a in delivery.attempts.all()
        ],
    }


class WebhookCreateSerializer(serializers.Serializer):
    """``{url, eventType, description?}``; the URL rules live in ``services.validate_webhook_input``."""

    url = StrictCharField(trim_whitespace=True)
    eventType = serializers.ChoiceField(choices=EventType.values)  # noqa: N815 (API.md's key)
    description = StrictCharField(required=False, allow_blank=True, default="", max_length=500)


class WebhookUpdateSerializer(serializers.Serializer):
    """Any subset of ``{url, eventType, description, active}``."""

    url = StrictCharField(required=False, trim_whitespace=True)
    eventType = serializers.ChoiceField(choices=EventType.values, required=False)  # noqa: N815
    description = StrictCharField(required=False, allow_blank=True, max_length=500)
    active = serializers.BooleanField(required=False)
