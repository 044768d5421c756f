"""The ``Schedule``: a user's recurring or one-time job, projected onto django-celery-beat's ``PeriodicTask``.

The schedule row is the source of truth (definition, run count, next fire time); the
``PeriodicTask`` (+ its crontab/interval/clocked row) is only its projection for beat and admin.
"""

import secrets

from django.conf import settings
from django.db import models
from django.db.models import Q


def new_scheduler_id() -> str:
    """An opaque id that says nothing about its owner (the seed's ``userId-name-ms`` ids leak and collide)."""
    return "sch_" + secrets.token_urlsafe(12)


class ScheduleKind(models.TextChoices):
    CRON = "cron"
    EVERY = "every"
    AT = "at"


class ScheduleState(models.TextChoices):
    ACTIVE = "active"
    PAUSED = "paused"
    ENDED = "ended"


class Overlap(models.TextChoices):
    ALLOW = "allow"
    SKIP = "skip"


class ScheduleQuerySet(models.QuerySet):
    def owned_by(self, user) -> "ScheduleQuerySet":
        """The only way endpoints and pages read schedules: scoped to their owner."""
        return self.filter(owner=user)


class Schedule(models.Model):
    """A schedule: run handler ``name`` with ``data``/``options`` on a cron, an interval or once.

    ``next_fire_at`` (UTC, indexed) is the next nominal fire time beat acts on; ``None`` when the
    schedule is paused or ended. ``run_count`` counts runs created by fires, durably.
    """

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="schedules")
    scheduler_id = models.CharField(max_length=200, default=new_scheduler_id)
    name = models.CharField(max_length=200, help_text="Handler name of the jobs it creates.")
    queue = models.CharField(
        max_length=64, default="jobQueue", help_text="Named queue of the jobs it creates (JOB_QUEUES)."
    )
    data = models.JSONField(null=True, blank=True)
    options = models.JSONField(default=dict, blank=True, help_text="Job options (BullMQ names).")
    flow = models.JSONField(
        null=True, blank=True,
        help_text="Child jobs of each fire's flow, the schedule's job as the root (docs/flows.md).",
    )
    kind = models.CharField(max_length=8, choices=ScheduleKind.choices)
    cron_expression = models.CharField(max_length=200, blank=True, default="")
    time_zone = models.CharField(max_length=64, default="UTC")
    every_ms = models.BigIntegerField(null=True, blank=True)
    at = models.DateTimeField(null=True, blank=True)
    anchor_at = models.DateTimeField(
        null=True, blank=True, help_text="Interval fire k is at anchor + k*every."
    )
    offset_ms = models.BigIntegerField(
        null=True,
        blank=True,
        help_text="BullMQ's repeat offset: interval fires fall on epoch + offset + k*every (ms).",
    )
    start_at = models.DateTimeField(null=True, blank=True)
    end_at = models.DateTimeField(null=True, blank=True)
    limit = models.PositiveIntegerField(null=True, blank=True)
    overlap = models.CharField(max_length=8, choices=Overlap.choices, default=Overlap.ALLOW)
    state = models.CharField(max_length=8, choices=ScheduleState.choices, default=ScheduleState.ACTIVE)
    run_count = models.PositiveIntegerField(default=0)
    last_run_at = models.DateTimeField(null=True, blank=True)
    next_fire_at = models.DateTimeField(null=True, blank=True)
    periodic_task = models.OneToOneField(
        "django_celery_beat.PeriodicTask",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="job_schedule",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ScheduleQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["owner", "-id"], name="schedule_owner_recent"),
            models.Index(
                fields=["next_fire_at"],
                name="schedule_due",
                condition=Q(state="active", next_fire_at__isnull=False),
            ),
        ]
        constraints = [
            models.UniqueConstraint(fields=["owner", "scheduler_id"], name="schedule_unique_id_per_owner"),
            models.CheckConstraint(
                condition=Q(end_at__isnull=True)
                | Q(start_at__isnull=True)
                | Q(end_at__gt=models.F("start_at")),
                name="schedule_end_after_start",
            ),
            models.CheckConstraint(
                condition=Q(limit__isnull=True) | Q(limit__gte=1), name="schedule_limit_positive"
            ),
            models.CheckConstraint(
                condition=Q(offset_ms__isnull=True) | Q(offset_ms__gt=0, offset_ms__lt=models.F("every_ms")),
                name="schedule_offset_within_every",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.scheduler_id} ({self.name}, {self.kind})"
