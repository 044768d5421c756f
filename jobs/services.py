"""Job services: every write to a ``Job`` goes through here (API, pages, admin, schedules, tasks)."""

from __future__ import annotations

import json
import logging
import traceback
from datetime import timedelta
from typing import Any

import jsonschema
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F, Value
from django.db.models.functions import Concat
from django.utils import timezone

from . import handlers
from .models import Job, JobState
from .options import validate_options
from .realtime import publish_job_event

logger = logging.getLogger(__name__)


class PayloadTooLargeError(ValidationError):
    """``data`` is larger than ``JOB_MAX_DATA_BYTES`` (the API answers 413)."""


class JobCancelled(Exception):
    """Raised inside a handler by ``ctx.check_cancelled()`` when its job was cancelled."""


def validate_job_input(*, name: Any, data: Any, options: Any) -> dict:
    """Check a job's ``name``, ``data`` and ``options`` and return the merged options.

    Raises ``ValidationError`` naming the field (unknown handler lists the known names; ``data``
    is checked against the handler's JSON Schema) or :class:`PayloadTooLargeError`.
    """
    if not isinstance(name, str) or not name:
        raise ValidationError({"name": ["name: required, the name of a registered handler"]})
    handler = handlers.get(name)
    if handler is None:
        raise ValidationError(
            {"name": [f"name: no handler named '{name}'; known handlers: {', '.join(handlers.names())}"]}
        )
    size = len(json.dumps(data, separators=(",", ":")).encode())
    if size > settings.JOB_MAX_DATA_BYTES:
        raise PayloadTooLargeError(
            {"data": [f"data: {size} bytes is larger than the limit of {settings.JOB_MAX_DATA_BYTES} bytes"]}
        )
    if handler.schema is not None:
        try:
            jsonschema.validate(data, handler.schema)
        except jsonschema.ValidationError as exc:
            where = "data" + "".join(f"[{p!r}]" if isinstance(p, int) else f".{p}" for p in exc.absolute_path)
            raise ValidationError({"data": [f"{where}: {exc.message}"]}) from None
    return validate_options(options)


def job_submit(
    *,
    owner,
    name: str,
    data: Any,
    options: dict | None = None,
    schedule=None,
    fire_at=None,
) -> tuple[Job, bool]:
    """Create a job and publish it to queue ``jobs`` after commit.

    Returns ``(job, created)``. With ``options.jobId`` the same owner and key return the existing
    job and ``created=False`` (idempotent). ``delay`` (ms) makes the job ``delayed`` until due.
    Raises ``ValidationError`` / :class:`PayloadTooLargeError` for bad input; nothing is stored then.
    """
    merged = validate_job_input(name=name, data=data, options=options)
    key = str(merged["jobId"]) if "jobId" in merged else None
    if key is not None:
        existing = Job.objects.owned_by(owner).filter(idempotency_key=key).first()
        if existing is not None:
            return existing, False
    delay_ms = merged.get("delay", 0)
    now = timezone.now()
    job = Job(
        owner=owner,
        name=name,
        data=data,
        options=merged,
        priority=merged.get("priority", 0),
        idempotency_key=key,
        schedule=schedule,
        fire_at=fire_at,
        state=JobState.DELAYED if delay_ms else JobState.WAITING,
        run_at=now + timedelta(milliseconds=delay_ms) if delay_ms else None,
    )
    try:
        with transaction.atomic():
            job.save()
    except IntegrityError:
        # A concurrent submit with the same key, or a second delivery of the same schedule fire.
        if key is not None:
            return Job.objects.owned_by(owner).get(idempotency_key=key), False
        if schedule is not None and fire_at is not None:
            return Job.objects.get(schedule=schedule, fire_at=fire_at), False
        raise
    transaction.on_commit(lambda: job_enqueue(job))
    return job, True


def job_enqueue(job: Job) -> None:
    """Publish a waiting job's message to queue ``jobs`` and announce it (call after commit)."""
    from .tasks import run_job

    if job.state == JobState.WAITING:
        run_job.apply_async(args=[job.pk])
    publish_job_event(job, job.state)


class JobContext:
    """What a handler gets besides its data: report progress, stream deltas, log, see cancellation."""

    def __init__(self, job: Job):
        self.job = job

    def progress(self, value: Any) -> None:
        """Record progress: a number 0-100 or a JSON object; published as a ``progress`` event."""
        Job.objects.filter(pk=self.job.pk).update(progress=value)
        self.job.progress = value
        publish_job_event(self.job, "progress", progress=value)

    def delta(self, text: str) -> None:
        """Append streamed partial output; published in order as ``delta`` events."""
        text = str(text)
        # Concat, not F() + text: "+" is numeric addition in SQLite and no text operator in PostgreSQL.
        Job.objects.filter(pk=self.job.pk).update(output=Concat(F("output"), Value(text)))
        publish_job_event(self.job, "delta", content=text)

    def log(self, line: str) -> None:
        """Append a log line to the job."""
        self.job.logs = [*self.job.logs, str(line)]
        Job.objects.filter(pk=self.job.pk).update(logs=self.job.logs)

    @property
    def cancelled(self) -> bool:
        return Job.objects.filter(pk=self.job.pk, cancel_requested=True).exists()

    def check_cancelled(self) -> None:
        """Raise :class:`JobCancelled` if the job was cancelled; handlers call it between steps."""
        if self.cancelled:
            raise JobCancelled()


def job_execute(*, job_id: int) -> Job | None:
    """Run a waiting job once: claim it (waiting → active), call its handler, store the outcome.

    Idempotent: a job that is not ``waiting`` (already run, cancelled, or claimed by another
    worker) is left alone and ``None`` is returned.
    """
    now = timezone.now()
    claimed = Job.objects.filter(pk=job_id, state=JobState.WAITING).update(
        state=JobState.ACTIVE, started_at=now, attempts_made=F("attempts_made") + 1
    )
    if not claimed:
        return None
    job = Job.objects.select_related("schedule").get(pk=job_id)
    publish_job_event(job, "active")
    handler = handlers.get(job.name)
    try:
        if handler is None:
            raise LookupError(f"no handler named '{job.name}'")
        result = handler.fn(job.data, JobContext(job))
        json.dumps(result)
    except Exception as exc:  # any handler error is the job's failure, not the worker's
        job.state = JobState.FAILED
        job.failed_reason = f"{type(exc).__name__}: {exc}"
        job.stacktrace = traceback.format_exc()
        job.finished_at = timezone.now()
        job.save(update_fields=["state", "failed_reason", "stacktrace", "finished_at"])
        publish_job_event(job, "failed", error=job.failed_reason)
        return job
    job.state = JobState.COMPLETED
    job.result = result
    job.progress = 100 if job.progress in (0, None) else job.progress
    job.finished_at = timezone.now()
    job.save(update_fields=["state", "result", "progress", "finished_at"])
    publish_job_event(job, "completed", result=result)
    return job
