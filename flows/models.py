"""``Flow``: a tree of jobs created together (BullMQ's ``FlowProducer``; docs/flows.md).

The jobs are ordinary ``jobs.Job`` rows linked by ``parent`` and sharing ``flow_id``; this record
holds what the API's FlowResponse shows (the system we port: ``src/types/flow-interfaces.ts``) and
is kept up to date from the jobs' events (``flows.events``).
"""

from django.conf import settings
from django.db import models


class FlowStatus(models.TextChoices):
    """The FlowResponse's ``status`` (the original's ``flow-statuses.ts``)."""

    PENDING = "pending"
    RUNNING = "running"
    COMPLETED = "completed"
    FAILED = "failed"
    CANCELLED = "cancelled"


FINISHED_FLOW_STATUSES = (FlowStatus.COMPLETED, FlowStatus.FAILED, FlowStatus.CANCELLED)


class FlowQuerySet(models.QuerySet):
    def owned_by(self, user) -> "FlowQuerySet":
        """The only way endpoints and pages read flows: scoped to their owner."""
        return self.filter(owner=user)


class Flow(models.Model):
    """One flow: its public ``flow_id``, owner, name, root job and derived status.

    ``status``: ``completed``/``failed``/``cancelled`` as its root job ended; before that ``failed``
    (or ``cancelled``) while a child's failure (cancel) holds a parent back, ``running`` once a job
    started, else ``pending``. ``progress``: ``{total, completed, failed, percentage}`` over its jobs.
    """

    flow_id = models.CharField(max_length=64, unique=True, help_text="The API's flowId.")
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="flows")
    flowname = models.CharField(max_length=200, help_text="Human-readable name of the flow.")
    name = models.CharField(max_length=200, help_text="Handler of the root job.")
    queue = models.CharField(max_length=64, help_text="Queue of the root job (queueName).")
    # Deleting the root job (e.g. DELETE /jobs/{id}) deletes its subtree, so the flow goes with it.
    root = models.OneToOneField(
        "jobs.Job", null=True, blank=True, on_delete=models.CASCADE, related_name="flow_record"
    )
    status = models.CharField(max_length=16, choices=FlowStatus.choices, default=FlowStatus.PENDING)
    progress = models.JSONField(default=dict, blank=True)
    result = models.JSONField(null=True, blank=True, help_text="The root job's result.")
    error = models.JSONField(null=True, blank=True, help_text="{message} of the failure, if any.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    started_at = models.DateTimeField(null=True, blank=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    objects = FlowQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["owner", "-id"], name="flow_owner_recent")]

    def __str__(self) -> str:
        return f"{self.flowname} ({self.flow_id}, {self.status})"
