"""Shapes of webhooks and deliveries on the wire (API.md: Webhooks): request serializers that parse,
response serializers that views answer with and drf-spectacular documents. Times are ISO 8601 UTC.

A webhook's ``id`` is an integer, as the original's (``job-monitor.html`` compares it with ``===``);
delivery ids stay strings.
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from config.serializers import (
    AnyJSON,
    BlankAsNullCharField,
    StrictCharField,
    StringIdField,
    UtcDateTimeField,
    envelope,
)

from .. import signing
from ..models import DeliveryState, EventType

# --- requests -------------------------------------------------------------------------------------------


class WebhookCreateSerializer(serializers.Serializer):
    """``{url, eventType, description?}`` (``description`` may be null, as the original's clients send);
    the URL rules live in ``services.validate_webhook_input``."""

    url = StrictCharField(trim_whitespace=True)
    eventType = serializers.ChoiceField(choices=EventType.values)  # noqa: N815 (API.md's key)
    description = StrictCharField(
        required=False, allow_blank=True, allow_null=True, default="", max_length=500
    )

    class Meta:
        ref_name = "WebhookCreate"

    def validate_description(self, value):
        return value or ""


class WebhookUpdateSerializer(serializers.Serializer):
    """Any subset of ``{url, eventType, description, active}``."""

    url = StrictCharField(required=False, trim_whitespace=True)
    eventType = serializers.ChoiceField(choices=EventType.values, required=False)  # noqa: N815
    description = StrictCharField(required=False, allow_blank=True, allow_null=True, max_length=500)
    active = serializers.BooleanField(required=False)

    class Meta:
        ref_name = "WebhookUpdate"

    def validate_description(self, value):
        return value or ""


class LegacyWebhookUrlSerializer(serializers.Serializer):
    """``{webhookUrl}`` of PUT /webhooks/url (the original's legacy route)."""

    webhookUrl = StrictCharField(trim_whitespace=True)  # noqa: N815

    class Meta:
        ref_name = "LegacyWebhookUrl"


# --- responses ------------------------------------------------------------------------------------------


class WebhookSerializer(serializers.Serializer):
    """``{id, userId, url, eventType, description, active, legacy, disabledReason, disabledAt,
    consecutiveFailures, createdAt, updatedAt}`` (the original's Prisma row plus ours)."""

    id = serializers.IntegerField(source="pk")
    userId = serializers.IntegerField(source="owner_id")  # noqa: N815
    url = serializers.CharField()
    eventType = serializers.ChoiceField(source="event_type", choices=EventType.values)  # noqa: N815
    description = BlankAsNullCharField()
    active = serializers.BooleanField()
    legacy = serializers.BooleanField(help_text="The user's legacy webhookUrl (completed events).")
    disabledReason = BlankAsNullCharField(source="disabled_reason")  # noqa: N815
    disabledAt = UtcDateTimeField(source="disabled_at", allow_null=True)  # noqa: N815
    consecutiveFailures = serializers.IntegerField(source="consecutive_failures")  # noqa: N815
    createdAt = UtcDateTimeField(source="created_at")  # noqa: N815
    updatedAt = UtcDateTimeField(source="updated_at")  # noqa: N815

    class Meta:
        ref_name = "Webhook"


class WebhookWithSecretSerializer(WebhookSerializer):
    """A webhook right after creation or rotation: plus ``secret`` and ``standardSecret`` (shown once)."""

    secret = serializers.CharField(help_text="Signing key; shown only now.")
    standardSecret = serializers.SerializerMethodField(  # noqa: N815
        help_text="The same key as a Standard Webhooks whsec_ secret."
    )

    class Meta:
        ref_name = "WebhookWithSecret"

    def get_standardSecret(self, webhook) -> str:  # noqa: N802
        return signing.standard_secret(webhook.secret)


WebhookEnvelopeSerializer = envelope("WebhookEnvelope", "webhook", WebhookSerializer())


WebhookSecretEnvelopeSerializer = envelope("WebhookSecretEnvelope", "webhook", WebhookWithSecretSerializer())


WebhookListSerializer = envelope("WebhookList", "webhooks", WebhookSerializer(many=True))


class LegacyWebhookUrlResultSerializer(serializers.Serializer):
    """``{message, webhookUrl, webhook}`` of PUT /webhooks/url."""

    message = serializers.CharField()
    webhookUrl = serializers.CharField()  # noqa: N815
    webhook = WebhookSerializer()

    class Meta:
        ref_name = "LegacyWebhookUrlResult"


class DeliveryAttemptSerializer(serializers.Serializer):
    number = serializers.IntegerField()
    at = UtcDateTimeField(source="started_at")
    statusCode = serializers.IntegerField(source="status_code", allow_null=True)  # noqa: N815
    responseBody = serializers.CharField(source="response_body", allow_blank=True)  # noqa: N815
    latencyMs = serializers.IntegerField(source="latency_ms", allow_null=True)  # noqa: N815
    error = BlankAsNullCharField()

    class Meta:
        ref_name = "DeliveryAttempt"


class DeliverySerializer(serializers.Serializer):
    """``{id, webhookId, eventId (the webhook-id header), eventType, jobId, state, attemptsMade,
    maxAttempts, nextAttemptAt, lastStatusCode, lastError, manual, redeliveryOf, createdAt, finishedAt,
    payload, attempts: [{number, at, statusCode, responseBody, latencyMs, error}]}``."""

    id = StringIdField(source="pk")
    webhookId = StringIdField(source="webhook_id")  # noqa: N815
    eventId = serializers.CharField(source="event_id")  # noqa: N815
    eventType = serializers.CharField(source="event_type")  # noqa: N815
    jobId = StringIdField(source="job_id", allow_null=True)  # noqa: N815
    state = serializers.ChoiceField(choices=DeliveryState.values)
    attemptsMade = serializers.IntegerField(source="attempts_made")  # noqa: N815
    maxAttempts = serializers.IntegerField(source="max_attempts")  # noqa: N815
    nextAttemptAt = serializers.SerializerMethodField()  # noqa: N815
    lastStatusCode = serializers.IntegerField(source="last_status_code", allow_null=True)  # noqa: N815
    lastError = BlankAsNullCharField(source="last_error")  # noqa: N815
    manual = serializers.BooleanField()
    redeliveryOf = StringIdField(source="redelivery_of_id", allow_null=True)  # noqa: N815
    createdAt = UtcDateTimeField(source="created_at")  # noqa: N815
    finishedAt = UtcDateTimeField(source="finished_at", allow_null=True)  # noqa: N815
    payload = AnyJSON()
    attempts = DeliveryAttemptSerializer(many=True, source="attempts.all")

    class Meta:
        ref_name = "Delivery"

    @extend_schema_field({"type": "string", "format": "date-time", "nullable": True})
    def get_nextAttemptAt(self, delivery) -> str | None:  # noqa: N802
        pending = delivery.state == DeliveryState.PENDING
        return UtcDateTimeField().to_representation(delivery.next_attempt_at) if pending else None


DeliveryEnvelopeSerializer = envelope("DeliveryEnvelope", "delivery", DeliverySerializer())


DeliveryListSerializer = envelope("DeliveryList", "deliveries", DeliverySerializer(many=True), paginated=True)
