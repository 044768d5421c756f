"""``Webhook`` (a user's URL subscribed to job events), ``Delivery`` (one event sent to it, with its
retry state) and ``DeliveryAttempt`` (one HTTP request of a delivery: time, status, body, latency, error).
"""

from django.conf import settings
from django.db import models


class EventType(models.TextChoices):
    """What a webhook subscribes to (API.md). ``all`` is every job event: waiting, active, progress,
    delta, completed, failed and cancelled. ``flow.completed`` / ``flow.failed``: a flow's status
    became completed / failed (docs/flows.md); ``all`` does not include them."""

    PROGRESS = "progress"
    COMPLETED = "completed"
    FAILED = "failed"
    DELTA = "delta"
    ALL = "all"
    FLOW_COMPLETED = "flow.completed"
    FLOW_FAILED = "flow.failed"


class WebhookQuerySet(models.QuerySet):
    def owned_by(self, user) -> "WebhookQuerySet":
        """The only way endpoints read webhooks: scoped to their owner."""
        return self.filter(owner=user)


class Webhook(models.Model):
    """A user's endpoint for job events of one ``event_type``; one per (owner, url, event type).

    ``secret`` signs every request (``webhooks.signing``). After
    ``WEBHOOK_DISABLE_AFTER_FAILURES`` automatic deliveries in a row end ``failed`` the webhook is
    switched off (``active=False``) and ``disabled_reason`` says why; any success resets the count.
    """

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="webhooks")
    url = models.CharField(max_length=2000)
    event_type = models.CharField(max_length=16, choices=EventType.choices)
    description = models.CharField(max_length=500, blank=True, default="")
    secret = models.CharField(max_length=100)
    active = models.BooleanField(default=True)
    consecutive_failures = models.PositiveIntegerField(default=0)
    disabled_reason = models.TextField(blank=True, default="")
    disabled_at = models.DateTimeField(null=True, blank=True)
    legacy = models.BooleanField(
        default=False,
        help_text="The user's webhookUrl of the system we port (from registration or PUT /webhooks/url).",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = WebhookQuerySet.as_manager()

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["owner", "url", "event_type"], name="webhook_unique_owner_url_event"
            ),
            models.UniqueConstraint(
                fields=["owner"], condition=models.Q(legacy=True), name="webhook_one_legacy_url_per_owner"
            ),
        ]
        indexes = [models.Index(fields=["owner", "active", "event_type"], name="webhook_owner_active_event")]

    def __str__(self) -> str:
        return f"{self.event_type} → {self.url}"


class DeliveryState(models.TextChoices):
    PENDING = "pending"  # waiting for its next attempt (at ``next_attempt_at``)
    SENDING = "sending"  # claimed by a worker, request in flight
    SUCCEEDED = "succeeded"
    FAILED = "failed"  # attempts exhausted, or an answer that is not retried


class Delivery(models.Model):
    """One event for one webhook: its payload, retry state and attempts.

    ``event_id`` is the ``webhook-id`` header: the same on every attempt and on a redelivery, so
    receivers can drop duplicates. ``manual`` marks a test ping or a redelivery asked for by the
    owner: those are sent even to a disabled webhook and do not count towards disabling it.
    """

    webhook = models.ForeignKey(Webhook, on_delete=models.CASCADE, related_name="deliveries")
    event_id = models.CharField(max_length=64, db_index=True)
    event_type = models.CharField(max_length=16)
    job_id = models.BigIntegerField(null=True, blank=True)
    payload = models.JSONField()
    state = models.CharField(max_length=16, choices=DeliveryState.choices, default=DeliveryState.PENDING)
    attempts_made = models.PositiveIntegerField(default=0)
    max_attempts = models.PositiveIntegerField(default=1)
    next_attempt_at = models.DateTimeField(
        null=True, blank=True, help_text="When the next attempt is due (UTC)."
    )
    enqueued_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When a task message for the next attempt is due; null: none published.",
    )
    claimed_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveIntegerField(null=True, blank=True)
    last_error = models.TextField(blank=True, default="")
    manual = models.BooleanField(default=False)
    redelivery_of = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name_plural = "deliveries"
        indexes = [
            models.Index(fields=["webhook", "-id"], name="delivery_webhook_recent"),
            models.Index(fields=["state", "next_attempt_at"], name="delivery_state_due"),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} #{self.pk} ({self.state})"


class DeliveryAttempt(models.Model):
    """One HTTP request of a delivery, written before the request is sent and completed after it."""

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempts")
    number = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    status_code = models.PositiveIntegerField(null=True, blank=True)
    response_body = models.TextField(
        blank=True, default="", help_text="At most WEBHOOK_RESPONSE_BODY_MAX_BYTES."
    )
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    error = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["number"]
        constraints = [
            models.UniqueConstraint(fields=["delivery", "number"], name="delivery_attempt_unique_number")
        ]

    def __str__(self) -> str:
        return f"attempt {self.number} of delivery {self.delivery_id}"
