"""Submitting jobs: validation of name, data and options, one job (:func:`job_submit`) or many
(:func:`jobs_submit_bulk`, BullMQ's ``addBulk``). The row is written before its message is
published (``transaction.on_commit``, ``jobs.publishing``)."""

from __future__ import annotations

import json
import logging
from contextlib import nullcontext
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import jsonschema
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from . import handlers, named_queues
from .models import Job, JobState
from .options import validate_options
from .publishing import job_enqueue, jobs_enqueue_many

if TYPE_CHECKING:
    from scheduling.models import Schedule

logger = logging.getLogger(__name__)


class PayloadTooLargeError(ValidationError):
    """``data`` is larger than ``JOB_MAX_DATA_BYTES`` (the API answers 413)."""


def _as_stored(value: Any) -> Any:
    """``value`` as it reads back from a PostgreSQL ``jsonb`` column: numbers are stored as
    ``numeric``, which prints without an exponent, so a float written ``1e+99`` comes back as a
    100-digit integer (a float with a negative exponent or none prints as it went in)."""
    if isinstance(value, float) and "e+" in repr(value):
        return int(Decimal(repr(value)))
    if isinstance(value, list):
        return [_as_stored(v) for v in value]
    if isinstance(value, dict):
        return {k: _as_stored(v) for k, v in value.items()}
    return value


def stored_size(data: Any) -> int:
    """Bytes of ``data`` as compact JSON in the form the database stores and returns it (issue 13).

    The limit ``JOB_MAX_DATA_BYTES`` applies to that form, not to the request's text: ``[1e99]``
    is 7 bytes in a request and 102 once stored in ``jsonb``, so data checked only as sent could
    pass at a schedule's creation and exceed the limit at every fire. SQLite stores the text as
    sent; the same (larger) measure applies there, so a value is accepted on both databases alike.
    """
    text = json.dumps(data, separators=(",", ":"))
    if "e+" in text:  # only an exponent can grow (a string holding "e+" merely costs a walk)
        text = json.dumps(_as_stored(data), separators=(",", ":"))
    return len(text.encode())


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
    size = stored_size(data)
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


def job_build(
    *,
    owner_id: int,
    name: str,
    data: Any,
    options: dict[str, Any],
    now: datetime,
    queue: str | None = None,
    idempotency_key: str | None = None,
    schedule: Schedule | None = None,
    fire_at: datetime | None = None,
    finished: tuple[JobState, str] | None = None,
) -> Job:
    """The unsaved ``Job`` row of a new job: the one place that decides a new job's fields.

    Every path that makes a job uses it: :func:`job_submit`, :func:`jobs_submit_bulk` and the
    schedule fire paths (``scheduling.firing``: bulk and single fires, skipped and failed fires,
    triggers). ``options`` are the merged options (``validate_options``) of a runnable job; ``now``
    (aware UTC) is the submission instant. The job is ``waiting`` (``enqueued_at = now``) or, with
    ``options.delay`` (ms), ``delayed`` until ``now + delay`` (BullMQ: a delayed job waits in the
    delayed set until due; beat's promoter publishes it). ``finished=(state, reason)`` makes a job
    that is over when it is made: ``cancelled`` (a fire skipped by ``overlap: skip``) or ``failed``
    (a fire that could not become a job), with ``failed_reason`` and ``finished_at = now``; its
    options are stored as given and not read. A job made by a schedule carries the schedule's
    ``scheduler_id`` and, unless ``queue`` is given, the schedule's queue; otherwise ``queue`` or
    the model's default.
    """
    fields: dict[str, Any] = {
        "owner_id": owner_id,
        "name": name,
        "data": data,
        "options": options,
        "idempotency_key": idempotency_key,
        "schedule": schedule,
        "scheduler_id": schedule.scheduler_id if schedule is not None else None,
        "fire_at": fire_at,
    }
    if queue is None and schedule is not None:
        queue = schedule.queue
    if queue is not None:
        fields["queue"] = queue
    if finished is not None:
        fields.update(state=finished[0], failed_reason=finished[1], finished_at=now)
    else:
        delay_ms = options.get("delay", 0)
        fields.update(
            priority=options.get("priority", 0),
            state=JobState.DELAYED if delay_ms else JobState.WAITING,
            run_at=now + timedelta(milliseconds=delay_ms) if delay_ms else None,
            enqueued_at=None if delay_ms else now,
        )
    return Job(**fields)


def job_submit(
    *,
    owner,
    name: str,
    data: Any,
    options: dict | None = None,
    schedule=None,
    fire_at=None,
    queue: str | None = None,
) -> tuple[Job, bool]:
    """Create a job in named queue ``queue`` and publish it to that queue's Celery queue after commit.

    ``queue``: a declared queue (``JOB_QUEUES``); ``None`` is the schedule's queue for a schedule's
    job, else ``JOB_DEFAULT_QUEUE``. An undeclared name is a ``ValidationError`` naming ``queue``.

    Returns ``(job, created)``. With ``options.jobId`` the same owner and key return the existing
    job and ``created=False`` (idempotent). ``delay`` (ms) makes the job ``delayed`` until due
    (then beat's promoter publishes it). Raises ``ValidationError`` / :class:`PayloadTooLargeError`
    for bad input; nothing is stored then.
    """
    merged = validate_job_input(name=name, data=data, options=options)
    queue = named_queues.validate(queue if queue is not None or schedule is None else schedule.queue)
    key = str(merged["jobId"]) if "jobId" in merged else None
    if key is not None:
        existing = Job.objects.owned_by(owner).filter(idempotency_key=key).first()
        if existing is not None:
            return existing, False
    job = job_build(
        owner_id=owner.pk, name=name, data=data, options=merged, now=timezone.now(), queue=queue,
        idempotency_key=key, schedule=schedule, fire_at=fire_at,
    )
    try:
        # One INSERT is atomic by itself; a savepoint is needed only inside a caller's transaction,
        # so that a duplicate key does not break it. (Leaving out BEGIN/COMMIT in autocommit saves
        # two statements and shortens SQLite's write lock.)
        with transaction.atomic() if connection.in_atomic_block else nullcontext():
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


BULK_MAX_ITEMS = 1000  # BullMQ's addBulk has no limit; one request's work and body stay bounded


def jobs_submit_bulk(*, owner, items: list[dict]) -> list[tuple[Job, bool]]:
    """Create many jobs at once (BullMQ's ``addBulk``): ``items`` are ``{name, data, options, queue?}``
    (``queue`` as :func:`job_submit`'s, default ``JOB_DEFAULT_QUEUE``).

    Validated as a whole: any bad item raises one ``ValidationError`` whose keys are
    ``"<index>.<field>"`` (e.g. ``"3.name"``), and nothing is stored. Otherwise every job is inserted
    with one bulk INSERT in one transaction and the waiting ones are published after commit as
    ``run_jobs`` batches (``jobs.runtime``). Returns ``(job, created)`` per item, in order: an item
    whose ``options.jobId`` the owner already used (or an earlier item of the same request used)
    gets that job and ``created=False``, as :func:`job_submit`. Raises ``ValidationError`` for more
    than ``BULK_MAX_ITEMS`` items or none.
    """
    if not items or len(items) > BULK_MAX_ITEMS:
        raise ValidationError({"body": [f"body: a list of 1 to {BULK_MAX_ITEMS} jobs, got {len(items)}"]})
    errors: dict[str, list[str]] = {}
    merged_of: list[dict] = []
    for index, item in enumerate(items):
        try:
            merged_of.append(
                validate_job_input(name=item.get("name"), data=item.get("data"), options=item.get("options"))
            )
            item["queue"] = named_queues.validate(item.get("queue"))
        except ValidationError as exc:
            for field, messages in exc.message_dict.items():
                errors[f"{index}.{field}"] = [
                    f"{index}.{m}" if m.startswith(field) else f"{index}.{field}: {m}" for m in messages
                ]
    if errors:
        raise ValidationError(errors)
    keys = [str(m["jobId"]) if "jobId" in m else None for m in merged_of]
    wanted = {k for k in keys if k is not None}
    known = {j.idempotency_key: j for j in Job.objects.owned_by(owner).filter(idempotency_key__in=wanted)}
    now = timezone.now()
    fresh: list[Job] = []
    slots: list[tuple[Job, bool]] = []
    for item, merged, key in zip(items, merged_of, keys, strict=True):
        if key is not None and key in known:
            slots.append((known[key], False))
            continue
        job = job_build(
            owner_id=owner.pk, name=item["name"], data=item.get("data"), options=merged, now=now,
            queue=item["queue"], idempotency_key=key,
        )
        if key is not None:
            known[key] = job
        fresh.append(job)
        slots.append((job, True))
    try:
        with transaction.atomic():
            Job.objects.bulk_create(fresh)
            transaction.on_commit(lambda: jobs_enqueue_many(fresh))
    except IntegrityError:
        # A concurrent submit took one of the keys: one by one, each keyed item finds its job.
        return [job_submit(owner=owner, name=i["name"], data=i.get("data"), options=i.get("options"),
                           queue=i["queue"]) for i in items]
    return slots
