"""Reads of flows, always scoped to the acting user (another user's flow is a 404 everywhere)."""

from __future__ import annotations

from config.errors import NotFoundError
from jobs.models import Job

from .models import Flow, FlowStatus

LIST_LIMIT_MAX = 1000


def flow_list(*, user, status: str | None = None):
    """The user's flows, newest first, optionally only those of one ``status`` (FlowStatus)."""
    qs = Flow.objects.owned_by(user)
    if status:
        qs = qs.filter(status=status)
    return qs.order_by("-id")


def flow_get(*, user, flow_id: str) -> Flow:
    """The user's flow ``flow_id``; ``NotFoundError`` for an unknown id or another user's flow."""
    flow = Flow.objects.owned_by(user).filter(flow_id=str(flow_id)).select_related("root").first()
    if flow is None:
        raise NotFoundError(f"no flow {str(flow_id)[:80]!r} of yours")
    return flow


def flow_job_get(*, user, flow: Flow, job_id: str) -> Job:
    """A job of ``flow`` named by its numeric id or its custom ``jobId``; ``NotFoundError`` otherwise."""
    jobs = Job.objects.owned_by(user).filter(flow_id=flow.flow_id)
    text = str(job_id)
    job = jobs.filter(pk=int(text)).first() if text.isdigit() and len(text) < 19 else None
    if job is None:
        job = jobs.filter(idempotency_key=text).first()
    if job is None:
        raise NotFoundError(f"no job {text[:80]!r} in flow {flow.flow_id}")
    return job


def flow_tree(*, flow: Flow) -> dict:
    """The flow as its create request (the original's ``GET /flows/{flowId}/jobs``) with each node's
    job: ``{flowId, flowname, name, queueName, data, opts, jobId, id, state, progress, result,
    failedReason, pendingChildren, children: [...]}``; one query."""
    jobs = list(Job.objects.filter(flow_id=flow.flow_id, owner_id=flow.owner_id).order_by("pk"))
    by_parent: dict[int | None, list[Job]] = {}
    for job in jobs:
        by_parent.setdefault(job.parent_id, []).append(job)

    def node(job: Job) -> dict:
        return {
            "name": job.name,
            "queueName": job.queue,
            "data": job.data,
            "opts": job.options,
            "jobId": job.public_id,
            "id": job.pk,
            "state": job.state,
            "progress": job.progress,
            "result": job.result,
            "failedReason": job.failed_reason or None,
            "pendingChildren": job.pending_children,
            "children": [node(child) for child in by_parent.get(job.pk, [])],
        }

    root = next((job for job in jobs if job.pk == flow.root_id), None)
    body = {"flowId": flow.flow_id, "flowname": flow.flowname}
    if root is None:
        return {**body, "name": flow.name, "queueName": flow.queue, "data": None, "opts": {}, "children": []}
    return {**body, **node(root)}


__all__ = ["FlowStatus", "flow_get", "flow_job_get", "flow_list", "flow_tree"]
