"""Parent and child jobs (flows, docs/flows.md): what a child's final outcome does to its parent.

A parent job waits in ``waiting-children`` with ``pending_children`` = its number of children not yet
counted. Every place where a job reaches a final state (``jobs.runtime``: a single completion, a
batch's completions, a final failure, a cancel; ``jobs.actions``; the reconciler in
``jobs.maintenance``) calls :func:`child_settled` in the SAME transaction as the child's conditional
final write. Since that write changes one row only once (it is conditional on the run still owning
the row), each child is counted exactly once, under redelivery and worker death alike; jobs without a
parent cost nothing (the callers test ``parent_id`` first).

Policies, per child, in its options (BullMQ's names, ``FlowJob.opts``):

- default: a completed child counts; a failed (or cancelled) child does not, so its parent stays
  ``waiting-children`` (BullMQ: the parent waits until the child is retried and completes, or is
  removed). Retrying the child (``POST /jobs/{id}/retry``) lets the flow go on.
- ``ignoreDependencyOnFailure``: the failure counts as done; the parent runs and lists the failure
  in ``ctx.ignored_failures()`` (BullMQ's ``getIgnoredChildrenFailures``).
- ``failParentOnFailure``: the parent fails at once with reason ``child <id> failed``, and so on up
  while each failed parent has the option too (BullMQ's rule). The parent's other children are left
  as they are, as BullMQ does: those waiting or running still run, and their outcomes no longer
  change the parent.

A cancelled child is treated as a failed one under its policy (a cancel is an outcome the parent
did not get a value from). A deleted child that had not been counted is a removed dependency (BullMQ's
``job.remove()`` of a child): its parent goes on when it was the last one.
"""

from __future__ import annotations

from collections.abc import Callable

from django.db import transaction
from django.db.models import F
from django.db.models.functions import Greatest
from django.utils import timezone

from .models import Job, JobState

FAIL_PARENT = "failParentOnFailure"
IGNORE_FAILURE = "ignoreDependencyOnFailure"
#: Options of a flow's child job, beside ``jobs.options.KNOWN_OPTIONS`` (BullMQ's ``FlowJob`` opts).
DEPENDENCY_OPTIONS = (FAIL_PARENT, IGNORE_FAILURE)


def _policy(child: Job, name: str) -> bool:
    options = child.options if isinstance(child.options, dict) else {}
    return options.get(name) is True


def counted(child: Job) -> bool:
    """Whether ``child`` (in its current state) was counted off its parent's ``pending_children``."""
    if child.state == JobState.COMPLETED:
        return True
    return child.state in (JobState.FAILED, JobState.CANCELLED) and _policy(child, IGNORE_FAILURE)


def final_write(job: Job, state: str, write: Callable[[], int]) -> bool:
    """Run ``write`` (the conditional UPDATE that moves ``job`` to its final ``state``; returns the
    rows changed) and, for a job with a parent, :func:`child_settled` in the same transaction. Returns
    whether the row changed. A job without a parent costs nothing more than ``write``."""
    if job.parent_id is None:
        return bool(write())
    with transaction.atomic():
        if not write():
            return False
        job.state = state
        child_settled(job)
    return True


def child_settled(child: Job) -> None:
    """``child`` (a job with a parent) just reached its final state ``child.state``: count it off its
    parent, fail the parent (``failParentOnFailure``) or leave the parent waiting (module docstring).

    Call inside the transaction of the child's conditional final write, after it changed the row.
    The parent's own events are published after commit.
    """
    if child.parent_id is None:
        return
    if counted(child):
        parents_count_off({child.parent_id: 1})
    elif child.state in (JobState.FAILED, JobState.CANCELLED) and _policy(child, FAIL_PARENT):
        _fail_parent(child)


def children_settled(children: list[Job]) -> None:
    """:func:`child_settled` for many completed children at once (a batch): one decrement per parent."""
    by_parent: dict[int, int] = {}
    for child in children:
        if child.parent_id is not None and counted(child):
            by_parent[child.parent_id] = by_parent.get(child.parent_id, 0) + 1
    if by_parent:
        parents_count_off(by_parent)


def parents_count_off(by_parent: dict[int, int]) -> list[int]:
    """Decrement each parent's ``pending_children`` by its count (one conditional UPDATE each, only
    while the parent is ``waiting-children``) and move those at 0 to ``waiting``, published after
    commit. Returns the ids of the parents that became ``waiting``."""
    now = timezone.now()
    promoted: list[int] = []
    for parent_id, n in sorted(by_parent.items()):
        Job.objects.filter(pk=parent_id, state=JobState.WAITING_CHILDREN).update(
            pending_children=Greatest(F("pending_children") - n, 0)
        )
        if Job.objects.filter(pk=parent_id, state=JobState.WAITING_CHILDREN, pending_children=0).update(
            state=JobState.WAITING, enqueued_at=now
        ):
            promoted.append(parent_id)
    if promoted:
        transaction.on_commit(lambda: _publish_promoted(promoted))
    return promoted


def _publish_promoted(parent_ids: list[int]) -> None:
    from .publishing import jobs_enqueue_many

    jobs_enqueue_many(list(Job.objects.filter(pk__in=parent_ids, state=JobState.WAITING)))


def _fail_parent(child: Job) -> None:
    """``failParentOnFailure``: the waiting parent fails with ``child <id> failed``, recursively up."""
    parent = Job.objects.filter(pk=child.parent_id).first() if child.parent_id is not None else None
    if parent is None:
        return
    reason = f"child {child.public_id} failed"
    now = timezone.now()
    if not Job.objects.filter(pk=parent.pk, state=JobState.WAITING_CHILDREN).update(
        state=JobState.FAILED, failed_reason=reason, finished_at=now
    ):
        return
    parent.state, parent.failed_reason, parent.finished_at = JobState.FAILED, reason, now

    def announce() -> None:
        from .realtime import publish_job_event

        publish_job_event(parent, "failed", error=reason)

    transaction.on_commit(announce)
    child_settled(parent)


def dependency_removed(child: Job) -> None:
    """``child`` is being deleted: if it had not been counted off its waiting parent, it is now
    (BullMQ's ``removeDependency``), so the parent goes on when it was its last child. Call inside the
    transaction of the delete."""
    if child.parent_id is not None and not counted(child):
        parents_count_off({child.parent_id: 1})


def dependency_restored(child: Job) -> None:
    """``child`` (failed or cancelled, counted as done under ``ignoreDependencyOnFailure``) runs again
    (retry): its waiting parent waits for it once more. Call inside the retry's transaction, before
    the child's state changes."""
    if child.parent_id is not None and counted(child):
        Job.objects.filter(pk=child.parent_id, state=JobState.WAITING_CHILDREN).update(
            pending_children=F("pending_children") + 1
        )


def children_values(parent: Job) -> dict[str, object]:
    """``{<child job id>: result}`` of the parent's completed children (BullMQ's
    ``getChildrenValues``); the key is the child's public id (``jobId``)."""
    return {
        child.public_id: child.result
        for child in Job.objects.filter(parent_id=parent.pk, state=JobState.COMPLETED).order_by("pk")
    }


def ignored_failures(parent: Job) -> dict[str, str]:
    """``{<child job id>: failed reason}`` of the children whose failure (or cancel) counted as done
    under ``ignoreDependencyOnFailure`` (BullMQ's ``getIgnoredChildrenFailures``)."""
    children = Job.objects.filter(
        parent_id=parent.pk, state__in=[JobState.FAILED, JobState.CANCELLED]
    ).order_by("pk")
    return {child.public_id: child.failed_reason for child in children if _policy(child, IGNORE_FAILURE)}
