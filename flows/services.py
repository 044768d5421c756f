"""Flows (docs/flows.md): create a tree of jobs in one transaction, cancel it, delete it, take the
original's external updates. The runtime side (a child's outcome counted off its parent) is
``jobs.dependencies``; the record's status follows the jobs' events (``flows.events``)."""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from config.errors import ConflictError, StateError
from jobs import named_queues
from jobs.actions import JobStateConflict, job_cancel, jobs_cancel_descendants
from jobs.dependencies import DEPENDENCY_OPTIONS, FAIL_PARENT, IGNORE_FAILURE
from jobs.models import FINISHED_STATES, Job, JobState
from jobs.publishing import jobs_enqueue_many
from jobs.realtime import publish_job_event
from jobs.submission import validate_job_input

from .models import Flow

FLOW_MESSAGE_CREATED = "Flow created successfully"
#: Keys of a node in a create request: the original's spellings, and ours (``queue``, ``options``).
NODE_KEYS = ("name", "queueName", "queue", "data", "opts", "options", "children")


def new_flow_id() -> str:
    """An opaque flow id in the original's form ``flow_<epoch ms>_<random>`` (random: 10 hex digits)."""
    return f"flow_{int(time.time() * 1000)}_{secrets.token_hex(5)}"


@dataclass
class _Node:
    path: str  # "" for the root, "children.1.children.0." for a descendant: the prefix of its errors
    name: str
    queue: str
    data: Any
    options: dict
    key: str | None
    children: list[_Node] = field(default_factory=list)
    job: Job | None = None


def _prefixed(path: str, exc: ValidationError) -> dict[str, list[str]]:
    """A node's validation errors named by its path: ``children.0.name: no handler named ...``."""
    out: dict[str, list[str]] = {}
    for key, messages in exc.message_dict.items():
        out[f"{path}{key}"] = [f"{path}{m}" if m.startswith(key) else f"{path}{key}: {m}" for m in messages]
    return out


def _parse(
    raw: Any, path: str, depth: int, errors: dict[str, list[str]], count: list[int], root: bool
) -> _Node | None:
    where = path[:-1] if path else "body"
    if not isinstance(raw, dict):
        errors[where] = [f"{where}: must be an object {{name, queueName, data, opts, children}}"]
        return None
    count[0] += 1
    if count[0] > settings.FLOW_MAX_JOBS:
        errors.setdefault(
            "children", [f"children: a flow has at most {settings.FLOW_MAX_JOBS} jobs (FLOW_MAX_JOBS)"]
        )
        return None
    if depth > settings.FLOW_MAX_DEPTH:
        errors[where] = [f"{where}: a flow is at most {settings.FLOW_MAX_DEPTH} levels deep (FLOW_MAX_DEPTH)"]
        return None
    queue_key = "queueName" if "queueName" in raw or "queue" not in raw else "queue"
    options_key = "opts" if "opts" in raw or "options" not in raw else "options"
    options = raw.get(options_key)
    children_raw = raw.get("children")
    if children_raw is not None and not isinstance(children_raw, list):
        errors[f"{path}children"] = [f"{path}children: must be a list of jobs"]
        children_raw = None
    has_children = bool(children_raw)
    policy: dict[str, bool] = {}
    if isinstance(options, dict):
        options = dict(options)
        for name in DEPENDENCY_OPTIONS:
            if name in options:
                value = options.pop(name)
                if not isinstance(value, bool):
                    errors[f"{path}{options_key}.{name}"] = [
                        f"{path}{options_key}.{name}: must be true or false"
                    ]
                elif root and value:
                    errors[f"{path}{options_key}.{name}"] = [
                        f"{path}{options_key}.{name}: only a child job has a parent to fail or go on"
                    ]
                else:
                    policy[name] = value
        if policy.get(FAIL_PARENT) and policy.get(IGNORE_FAILURE):
            errors[f"{path}{options_key}"] = [
                f"{path}{options_key}: {FAIL_PARENT} and {IGNORE_FAILURE} exclude each other"
            ]
        if has_children and options.get("delay"):
            errors[f"{path}{options_key}.delay"] = [
                f"{path}{options_key}.delay: a parent job runs when its children are done; "
                "it cannot be delayed"
            ]
    merged: dict = {}
    try:
        merged = validate_job_input(name=raw.get("name"), data=raw.get("data"), options=options)
    except ValidationError as exc:
        for key, messages in _prefixed(path, exc).items():
            if key == f"{path}options" and options_key == "opts":
                key, messages = (
                    f"{path}opts",
                    [m.replace(f"{path}options", f"{path}opts", 1) for m in messages],
                )
            errors[key] = messages
    try:
        queue = named_queues.validate(raw.get(queue_key), field=f"{path}{queue_key}")
    except ValidationError as exc:
        errors.update(exc.message_dict)
        queue = named_queues.default()
    node = _Node(
        path=path,
        name=str(raw.get("name") or ""),
        queue=queue,
        data=raw.get("data"),
        options={**merged, **policy},
        key=str(merged["jobId"]) if "jobId" in merged else None,
    )
    for index, child in enumerate(children_raw or []):
        parsed = _parse(child, f"{path}children.{index}.", depth + 1, errors, count, False)
        if parsed is not None:
            node.children.append(parsed)
    return node


def _walk(node: _Node):
    yield node
    for child in node.children:
        yield from _walk(child)


def flow_validate(*, owner, tree: Any) -> tuple[str, _Node]:
    """Check a whole create request and return ``(flowname, root node)``; nothing is stored.

    ``tree``: ``{flowname?, name, queueName|queue?, data?, opts|options?, children?: [node, ...]}``
    (the original's CreateFlowRequest). Every node's handler name, data (size as stored, handler
    schema) and options go through the submit validators (``jobs.submission.validate_job_input``); a
    child's ``opts`` may also hold BullMQ's ``failParentOnFailure`` / ``ignoreDependencyOnFailure``
    (true/false, not both). Raises ``ValidationError`` whose keys name each bad node's field by its
    path (``children.1.children.0.name``), ``ConflictError`` for an ``opts.jobId`` the owner used.
    Limits: ``FLOW_MAX_JOBS`` jobs, ``FLOW_MAX_DEPTH`` levels (the root is level 1).
    """
    errors: dict[str, list[str]] = {}
    if not isinstance(tree, dict):
        raise ValidationError(
            {"body": ["body: must be an object {flowname, name, queueName, data, opts, children}"]}
        )
    flowname = tree.get("flowname", tree.get("name"))
    if not isinstance(flowname, str) or not flowname.strip():
        errors["flowname"] = ["flowname: required, a non-empty string"]
    elif len(flowname) > 200:
        errors["flowname"] = ["flowname: at most 200 characters"]
    root = _parse(tree, "", 1, errors, [0], True)
    if errors or root is None:
        raise ValidationError(errors or {"body": ["body: not a flow"]})
    keys: dict[str, str] = {}
    for node in _walk(root):
        if node.key is None:
            continue
        if node.key in keys:
            where = f"{node.path}opts.jobId"
            raise ValidationError(
                {where: [f"{where}: {node.key!r} is already the jobId of {keys[node.key] or 'the root'}"]}
            )
        keys[node.key] = node.path[:-1]
    if keys:
        used = set(
            Job.objects.owned_by(owner)
            .filter(idempotency_key__in=keys)
            .values_list("idempotency_key", flat=True)
        )
        if used:
            key = sorted(used)[0]
            raise ConflictError(
                f"{keys[key] + '.' if keys[key] else ''}opts.jobId: a job {key!r} of yours exists"
            )
    return str(flowname), root


def flow_create(*, owner, tree: Any, schedule=None, fire_at=None) -> Flow:
    """Create a flow: every node of ``tree`` a ``Job`` in ONE transaction (validated first by
    :func:`flow_validate`; on any error nothing is stored).

    Leaves start ``waiting`` (``delayed`` with ``opts.delay``) and are published after commit; every
    parent starts ``waiting-children`` with ``pending_children`` = its number of children, and runs
    when they are done (``jobs.dependencies``). ``schedule``/``fire_at``: the root job of a schedule's
    fire (unique (schedule, fire time): a second fire of the same time creates nothing and returns
    the existing flow). One INSERT per level of the tree. Raises as :func:`flow_validate`.
    """
    flowname, root = flow_validate(owner=owner, tree=tree)
    if schedule is not None and fire_at is not None:
        existing = Flow.objects.filter(root__schedule=schedule, root__fire_at=fire_at).first()
        if existing is not None:
            return existing
    flow_id = new_flow_id()
    now = timezone.now()
    created: list[Job] = []
    with transaction.atomic():
        level: list[tuple[_Node, Job | None]] = [(root, None)]
        while level:
            rows = []
            for node, parent in level:
                delay_ms = node.options.get("delay", 0) if not node.children else 0
                if node.children:
                    state = JobState.WAITING_CHILDREN
                elif delay_ms:
                    state = JobState.DELAYED
                else:
                    state = JobState.WAITING
                is_root = parent is None
                node.job = Job(
                    owner=owner,
                    name=node.name,
                    queue=node.queue,
                    data=node.data,
                    options=node.options,
                    priority=node.options.get("priority", 0),
                    idempotency_key=node.key,
                    parent=parent,
                    flow_id=flow_id,
                    pending_children=len(node.children),
                    state=state,
                    run_at=now + timedelta(milliseconds=delay_ms) if delay_ms else None,
                    enqueued_at=now if state == JobState.WAITING else None,
                    schedule=schedule if is_root else None,
                    fire_at=fire_at if is_root else None,
                    scheduler_id=schedule.scheduler_id if is_root and schedule is not None else None,
                )
                rows.append(node.job)
            Job.objects.bulk_create(rows)
            created.extend(rows)
            level = [(child, node.job) for node, _ in level for child in node.children]
        total = len(created)
        flow = Flow.objects.create(
            flow_id=flow_id,
            owner=owner,
            flowname=flowname,
            name=root.name,
            queue=root.queue,
            root=root.job,
            progress={"total": total, "completed": 0, "failed": 0, "percentage": 0},
        )
        transaction.on_commit(lambda: _announce_created(flow, created))
    return flow


def schedule_flow_check(
    *, owner, name: str, data: Any, options: dict | None, queue: str | None, flow: Any
) -> list:
    """Check a schedule's ``flow`` key: a list of child nodes ``{name, queueName, data, opts, children}``
    under the schedule's own job (``name``, ``data``, ``options``, ``queue``) as the root; returns it.

    Errors are keyed by the schedule JSON's path (``flow.0.children.1.name``). A child may not carry
    ``opts.jobId`` (every fire makes new jobs, a custom id could be used once). Raises
    ``ValidationError``; the root's own fields are the schedule's and are checked by its parser.
    """
    if not isinstance(flow, list) or not flow:
        raise ValidationError(
            {"flow": ["flow: a non-empty list of child jobs {name, queueName, data, opts, children}"]}
        )
    tree = {
        "flowname": name,
        "name": name,
        "queueName": queue,
        "data": data,
        "opts": options,
        "children": flow,
    }
    errors: dict[str, list[str]] = {}
    try:
        _, root = flow_validate(owner=owner, tree=tree)
        for node in _walk(root):
            if node.key is not None and node.path:
                where = f"{node.path}opts.jobId"
                errors[where] = [
                    f"{where}: a schedule's flow makes new jobs at every fire; drop the custom id"
                ]
    except ValidationError as exc:
        errors = exc.message_dict
    except ConflictError as exc:
        errors = {"flow": [str(exc)]}
    renamed: dict[str, list[str]] = {}
    for key, messages in errors.items():
        if key.startswith("children"):
            renamed["flow" + key[len("children") :]] = ["flow" + m[len("children") :] for m in messages]
        elif key not in ("name", "data", "opts", "options", "queueName", "flowname"):
            renamed.setdefault("flow", []).extend(messages)
        elif key == "opts" or key.startswith("opts."):
            renamed.setdefault("flow", []).extend(messages)
    if renamed:
        raise ValidationError(renamed)
    return flow


def schedule_flow_fire(*, schedule, fire_at, options: dict) -> Job:
    """One fire of a schedule with a ``flow``: the flow (the schedule's job as its root, with
    ``options``, the fire's merged options; ``flow`` as its children) created by :func:`flow_create`,
    its root job carrying ``schedule`` and ``fire_at``, so the unique (schedule, fire time) keeps a
    fire idempotent. Returns the root job (the existing one for a repeated fire). Raises as
    :func:`flow_create` (the fire then fails on its own, ``scheduling.services``)."""
    tree = {
        "flowname": schedule.scheduler_id,
        "name": schedule.name,
        "queueName": schedule.queue,
        "data": schedule.data,
        "opts": options,
        "children": schedule.flow,
    }
    try:
        flow = flow_create(owner=schedule.owner, tree=tree, schedule=schedule, fire_at=fire_at)
    except IntegrityError:  # a concurrent delivery of the same fire made it first
        flow = Flow.objects.get(root__schedule=schedule, root__fire_at=fire_at)
    return Job.objects.get(flow_record=flow)


def _announce_created(flow: Flow, jobs: list[Job]) -> None:
    from .events import flow_payload, publish_flow_event

    publish_flow_event(flow, "flow:created", flow_payload(flow))
    jobs_enqueue_many(jobs)


def flow_cancel(*, flow: Flow) -> Flow:
    """Cancel every unfinished job of ``flow``, from the root down (so that no child's cancel can
    start a parent): waiting, delayed and waiting-children jobs end ``cancelled`` at once; active ones
    get ``cancel_requested`` (their handler's next ``ctx.check_cancelled()`` ends them). Returns the
    flow with its status recomputed. Raises ``StateError`` when no job of the flow is unfinished."""
    root = Job.objects.filter(flow_record=flow).first()
    unfinished = Job.objects.filter(flow_id=flow.flow_id).exclude(state__in=FINISHED_STATES).exists()
    if root is None or not unfinished:
        raise StateError(f"flow {flow.flow_id} is {flow.status}; nothing left to cancel")
    if root.state not in FINISHED_STATES:
        try:
            job_cancel(job=root)  # a waiting-children root cancels its descendants itself
        except JobStateConflict:
            pass
    jobs_cancel_descendants(job=root)
    from .events import flow_refresh

    flow_refresh(flow_id=flow.flow_id)
    flow.refresh_from_db()
    return flow


@dataclass(frozen=True)
class FlowDeletion:
    """What :func:`flow_delete` removed: the original's FlowDeletionResult."""

    total: int
    successful: int
    failed: list[str]
    details: list[dict]


def flow_delete(*, flow: Flow) -> FlowDeletion:
    """Delete ``flow`` and all its jobs. Unfinished jobs are cancelled first (as :func:`flow_cancel`),
    so a handler still running is asked to stop; its row is deleted at once and whatever it reports
    afterwards finds no row and is dropped (every write of a run is conditional on its row). Answers
    the original's ``{total, successful, failed, details: [{jobId, queueName, status}]}`` with one
    detail per job. Publishes ``flow:deleted`` after commit."""
    jobs = list(Job.objects.filter(flow_id=flow.flow_id).order_by("pk"))
    if any(job.state not in FINISHED_STATES for job in jobs):
        try:
            flow_cancel(flow=flow)
        except StateError:  # finished meanwhile
            pass
    details = [{"jobId": job.public_id, "queueName": job.queue, "status": "success"} for job in jobs]
    flow_id, owner_id = flow.flow_id, flow.owner_id
    with transaction.atomic():
        Job.objects.filter(flow_id=flow_id).delete()
        Flow.objects.filter(pk=flow.pk).delete()

        def announce() -> None:
            from .events import publish_flow_deleted

            publish_flow_deleted(owner_id=owner_id, flow_id=flow_id)

        transaction.on_commit(announce)
    return FlowDeletion(total=len(jobs), successful=len(jobs), failed=[], details=details)


def flow_job_update(*, flow: Flow, job: Job, progress: Any = None) -> bool:
    """The original's ``PUT /flows/{flowId}/jobs/{jobId}`` (an external worker reporting on a job).

    Our runtime owns states, results and errors, so only what is safe is applied: ``progress`` (a
    number 0-100 or a JSON object) of an ``active`` job, stored and published as the job's
    ``progress`` event. Everything else of the request is ignored. Returns whether anything was
    applied. Raises ``ValidationError`` naming ``progress`` for a value of another kind.
    """
    if progress is None:
        return False
    if isinstance(progress, bool) or not (
        (isinstance(progress, int | float) and 0 <= progress <= 100) or isinstance(progress, dict)
    ):
        raise ValidationError({"progress": ["progress: must be a number 0-100 or a JSON object"]})
    if not Job.objects.filter(pk=job.pk, flow_id=flow.flow_id, state=JobState.ACTIVE).update(
        progress=progress
    ):
        return False
    job.progress = progress
    publish_job_event(job, "progress", progress=progress)
    return True
