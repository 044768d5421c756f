"""The ``Job``: the record of one run of a handler for one user."""

from django.conf import settings
from django.db import models
from django.db.models import Q

from . import ids


class JobState(models.TextChoices):
    """BullMQ's state names, plus ``cancelled``. ``waiting-children``: a flow's parent job whose
    children have not all finished yet (BullMQ's state of that name; docs/flows.md)."""

    WAITING = "waiting"
    WAITING_CHILDREN = "waiting-children"
    DELAYED = "delayed"
    ACTIVE = "active"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


FINISHED_STATES = (JobState.COMPLETED, JobState.FAILED, JobState.CANCELLED)


class JobQuerySet(models.QuerySet):
    def owned_by(self, user) -> "JobQuerySet":
        """The only way endpoints and pages read jobs: scoped to their owner."""
        return self.filter(owner=user)


class Job(models.Model):
    """One job: handler ``name`` run on ``data`` with BullMQ-style ``options``.

    ``schedule``/``fire_at`` link a job to the schedule fire that made it; the pair is unique, so
    a second beat or a redelivered fire message cannot create a second job for the same fire time.
    """

    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="jobs")
    name = models.CharField(max_length=200)
    queue = models.CharField(
        max_length=64, default="jobQueue",
        help_text="Named queue of the job (JOB_QUEUES; BullMQ's queueName); decides which workers run it.",
    )
    # Flows (docs/flows.md): a parent job runs after all its children; deleting it deletes them.
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.CASCADE, related_name="children"
    )
    flow_id = models.CharField(  # noqa: DJ001  NULL: not part of a flow
        max_length=64, null=True, blank=True, help_text="flowId of the flow the job belongs to."
    )
    pending_children = models.PositiveIntegerField(
        default=0, help_text="Children not finished yet; the parent leaves waiting-children at 0."
    )
    data = models.JSONField(null=True, blank=True)
    options = models.JSONField(default=dict, blank=True)
    state = models.CharField(max_length=16, choices=JobState.choices, default=JobState.WAITING)
    priority = models.IntegerField(default=0)
    # NULL, not "", means "no key": the unique constraint on (owner, key) must skip keyless jobs.
    idempotency_key = models.CharField(max_length=255, null=True, blank=True)  # noqa: DJ001
    schedule = models.ForeignKey(
        "scheduling.Schedule", null=True, blank=True, on_delete=models.SET_NULL, related_name="jobs"
    )
    # The API's scheduleId, stored with the job when its schedule makes it (not looked up on every claim
    # or event); kept after the schedule is deleted, as BullMQ's job id "repeat:<schedulerId>:..." is.
    scheduler_id = models.CharField(max_length=200, null=True, blank=True)  # noqa: DJ001
    fire_at = models.DateTimeField(
        null=True, blank=True, help_text="Nominal fire time (UTC) of the schedule run."
    )
    attempts_made = models.PositiveIntegerField(default=0)
    stalled_count = models.PositiveIntegerField(
        default=0,
        help_text="Times the job went back to waiting because its worker died (BullMQ's stalledCounter);"
        " JOB_MAX_STALLED bounds it.",
    )
    worker = models.CharField(
        max_length=200, blank=True, default="",
        help_text="host:pid of the worker (main process) holding the active job; '' when none.",
    )
    progress = models.JSONField(default=int, blank=True)
    result = models.JSONField(null=True, blank=True)
    failed_reason = models.TextField(blank=True, default="")
    stacktrace = models.TextField(blank=True, default="")
    output = models.TextField(blank=True, default="", help_text="Streamed delta text, in order.")
    logs = models.JSONField(default=list, blank=True)
    attempt_history = models.JSONField(
        default=list, blank=True,
        help_text="One entry per finished attempt: {attempt, startedAt, finishedAt, durationMs, outcome,"
        " reason} (jobs.attempts).",
    )
    run_at = models.DateTimeField(
        null=True, blank=True, help_text="When a delayed job or retry is due (UTC)."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    cancel_requested = models.BooleanField(default=False)
    enqueued_at = models.DateTimeField(
        null=True, blank=True, help_text="When the job's message was last published to the broker (UTC)."
    )
    heartbeat_at = models.DateTimeField(
        null=True, blank=True, help_text="Refreshed every few seconds by the worker running the job (UTC)."
    )

    objects = JobQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["owner", "-id"], name="job_owner_recent"),
            models.Index(fields=["owner", "state", "-id"], name="job_owner_state_recent"),
            models.Index(fields=["owner", "name", "state", "finished_at"], name="job_owner_name_finished"),
            models.Index(fields=["schedule", "-id"], name="job_schedule_recent"),
            models.Index(fields=["state", "run_at"], name="job_state_run_at"),
            models.Index(fields=["queue", "state"], name="job_queue_state"),
            models.Index(fields=["flow_id"], condition=Q(flow_id__isnull=False), name="job_flow"),
            # The reconciler's two sweeps; partial, so they hold only the few rows in those states.
            models.Index(fields=["enqueued_at"], condition=Q(state="waiting"), name="job_waiting_enqueued"),
            models.Index(fields=["heartbeat_at"], condition=Q(state="active"), name="job_active_heartbeat"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["schedule", "fire_at"],
                condition=Q(schedule__isnull=False, fire_at__isnull=False),
                name="job_one_per_schedule_fire",
            ),
            models.UniqueConstraint(
                fields=["owner", "idempotency_key"],
                condition=Q(idempotency_key__isnull=False),
                name="job_unique_idempotency_key",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name}#{self.pk} ({self.state})"

    @property
    def is_finished(self) -> bool:
        return self.state in FINISHED_STATES

    @property
    def public_id(self) -> str:
        """The id clients see and address the job by (BullMQ's job id; rules in :mod:`jobs.ids`).

        The custom ``options.jobId``, else ``repeat:<schedulerId>:<fire time ms>`` for a schedule
        fire's job, else the numeric id. The ``id``/``jobId`` of the job's JSON and events.
        """
        key = self.idempotency_key
        if key is not None and ids.is_addressable_key(key):
            return key
        if self.fire_at is not None and self.schedule_id is not None:
            # the stored copy first: reading the relation would cost a query per job
            scheduler_id = self.scheduler_id or (self.schedule.scheduler_id if self.schedule else None)
            if scheduler_id is not None:
                return ids.repeat_job_id(scheduler_id, self.fire_at)
        return str(self.pk)


class JobQueue(models.Model):
    """Operator state of one named queue (``JOB_QUEUES``; docs/queues.md): BullMQ's ``queue.pause()``
    and the worker ``limiter {max, duration}``. A declared queue without a row is running and
    unlimited; rows are written by ``jobs.queue_control`` only. Queues are shared by every user, so
    only staff change them (the Queues board, the admin)."""

    name = models.CharField(max_length=64, unique=True)
    paused = models.BooleanField(
        default=False, help_text="Waiting jobs of a paused queue stay waiting; no new job of it starts."
    )
    limit_max = models.PositiveIntegerField(
        null=True, blank=True, help_text="At most this many jobs start per duration (BullMQ limiter.max)."
    )
    limit_duration_ms = models.PositiveIntegerField(
        null=True, blank=True, help_text="The limiter's window in milliseconds (BullMQ limiter.duration)."
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=(Q(limit_max__isnull=True) & Q(limit_duration_ms__isnull=True))
                | (Q(limit_max__gte=1) & Q(limit_duration_ms__gte=1)),
                name="jobqueue_limit_both_or_none",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def limited(self) -> bool:
        return self.limit_max is not None and self.limit_duration_ms is not None
