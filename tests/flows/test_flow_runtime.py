"""A flow's jobs run in this process (``jobs.runtime``), one step at a time: the parent waits for its
children, gets their values, and each policy of a failing or cancelled child holds (BullMQ's rules)."""

from __future__ import annotations

import pytest

from flows.models import Flow
from jobs import actions
from jobs.models import Job
from jobs.runtime import job_execute, jobs_execute_batch
from tests.flows.conftest import leaf, node
from tests.flows.handlers_for_tests import runs

pytestmark = pytest.mark.django_db


def create(api, tree) -> tuple[str, list[Job]]:
    response = api.post("/flows", tree, format="json")
    assert response.status_code == 201, response.content
    flow_id = response.json()["flowId"]
    return flow_id, list(Job.objects.filter(flow_id=flow_id).order_by("pk"))


def fresh(job: Job) -> Job:
    job.refresh_from_db()
    return job


def flow_of(flow_id: str) -> Flow:
    return Flow.objects.get(flow_id=flow_id)


THREE = {
    "flowname": "sum",
    "name": "test.sum",
    "data": {"add": 1000},
    "children": [
        {"name": "test.value", "data": {"value": 1}},
        {
            "name": "test.sum",
            "data": {"add": 100},
            "children": [
                {"name": "test.value", "data": {"value": 10}},
                {"name": "test.value", "data": {"value": 20}},
            ],
        },
    ],
}


def test_parent_runs_after_its_children_with_their_values(api, django_capture_on_commit_callbacks):
    flow_id, (root, leaf, mid, leaf2, leaf3) = create(api, THREE)
    assert job_execute(job_id=root.pk) is None  # waiting-children: not claimable
    job_execute(job_id=leaf2.pk)
    assert (fresh(mid).state, mid.pending_children) == ("waiting-children", 1)
    assert flow_of(flow_id).status == "running"
    with django_capture_on_commit_callbacks(execute=True):
        job_execute(job_id=leaf3.pk)
    assert (fresh(mid).state, mid.pending_children) == ("waiting", 0)
    job_execute(job_id=mid.pk)
    assert fresh(mid).result == {"sum": 130, "children": 2, "ignored": []}
    assert (fresh(root).state, root.pending_children) == ("waiting-children", 1)
    job_execute(job_id=leaf.pk)
    assert fresh(root).state == "waiting"
    job_execute(job_id=root.pk)
    assert fresh(root).result == {"sum": 1131, "children": 2, "ignored": []}
    flow = flow_of(flow_id)
    assert (flow.status, flow.result, flow.error) == (
        "completed",
        {"sum": 1131, "children": 2, "ignored": []},
        None,
    )
    assert flow.progress == {"total": 5, "completed": 5, "failed": 0, "percentage": 100}
    assert flow.completed_at == fresh(root).finished_at
    assert [runs(j.pk) for j in (root, leaf, mid, leaf2, leaf3)] == [1, 1, 1, 1, 1]


def test_children_values_are_keyed_by_child_job_id(api):
    tree = {
        "name": "test.concat",
        "data": {"prefix": ">"},
        "children": [
            {"name": "test.value", "data": {"value": "a"}, "opts": {"jobId": "first"}},
            {"name": "test.value", "data": {"value": "b"}},
        ],
    }
    _, (root, first, second) = create(api, tree)
    from jobs.dependencies import children_values

    jobs_execute_batch(job_ids=[second.pk, first.pk])  # one batch: one decrement for both
    assert fresh(root).state == "waiting"
    assert children_values(root) == {"first": "a", str(second.pk): "b"}


def test_a_batch_counts_each_child_once_even_when_redelivered(api):
    _, (root, a, b) = create(api, node("test.sum", leaf(1), leaf(2)))
    assert jobs_execute_batch(job_ids=[a.pk]) == 1
    assert jobs_execute_batch(job_ids=[a.pk]) == 0  # a redelivered message: nothing claimed, nothing counted
    assert job_execute(job_id=a.pk) is None
    assert (fresh(root).state, root.pending_children) == ("waiting-children", 1)
    jobs_execute_batch(job_ids=[b.pk])
    assert (fresh(root).state, root.pending_children) == ("waiting", 0)


def test_default_failure_leaves_the_parent_waiting_until_the_child_is_retried(
    api, django_capture_on_commit_callbacks
):
    flow_id, (root, ok, flaky) = create(
        api, node("test.sum", leaf(1), node("test.fail_once", data={"value": 2}))
    )
    job_execute(job_id=ok.pk)
    job_execute(job_id=flaky.pk)
    assert (fresh(flaky).state, fresh(root).state, root.pending_children) == ("failed", "waiting-children", 1)
    flow = flow_of(flow_id)
    assert flow.status == "failed"
    assert flow.error == {"message": f"job {flaky.pk} failed: RuntimeError: first attempt fails"}
    with django_capture_on_commit_callbacks(execute=True):
        actions.job_retry(job=fresh(flaky))
    assert flow_of(flow_id).status == "running"  # the retry's waiting event: the flow goes on
    job_execute(job_id=flaky.pk)
    assert fresh(root).state == "waiting"
    job_execute(job_id=root.pk)
    assert fresh(root).result == {"sum": 3, "children": 2, "ignored": []}
    assert flow_of(flow_id).status == "completed"


def test_ignore_dependency_on_failure_lets_the_parent_run_and_lists_the_failure(api):
    flow_id, (root, ok, bad) = create(
        api, node("test.sum", leaf(5), node("test.boom", opts={"ignoreDependencyOnFailure": True}))
    )
    job_execute(job_id=bad.pk)
    assert (fresh(bad).state, fresh(root).state, root.pending_children) == ("failed", "waiting-children", 1)
    assert flow_of(flow_id).status == "running"
    job_execute(job_id=ok.pk)
    job_execute(job_id=root.pk)
    assert fresh(root).result == {"sum": 5, "children": 1, "ignored": ["RuntimeError: boom"]}
    assert flow_of(flow_id).status == "completed"


def test_retrying_an_ignored_failure_makes_the_parent_wait_for_it_again(api):
    _, (root, other, flaky) = create(
        api,
        node(
            "test.sum",
            leaf(1),
            node("test.fail_once", data={"value": 2}, opts={"ignoreDependencyOnFailure": True}),
        ),
    )
    job_execute(job_id=flaky.pk)
    assert fresh(root).pending_children == 1
    actions.job_retry(job=fresh(flaky))
    assert fresh(root).pending_children == 2
    job_execute(job_id=flaky.pk)
    assert (fresh(root).state, root.pending_children) == ("waiting-children", 1)
    job_execute(job_id=other.pk)
    assert fresh(root).state == "waiting"


def test_fail_parent_on_failure_fails_parents_upward_and_leaves_siblings(
    api, django_capture_on_commit_callbacks
):
    flow_id, (root, sibling, mid, bad, cousin) = create(
        api,
        node(
            "test.sum",
            leaf(1),
            node(
                "test.sum",
                node("test.boom", opts={"failParentOnFailure": True}),
                leaf(2),
                opts={"failParentOnFailure": True},
            ),
        ),
    )
    with django_capture_on_commit_callbacks(execute=True):
        job_execute(job_id=bad.pk)
    assert (fresh(mid).state, mid.failed_reason) == ("failed", f"child {bad.pk} failed")
    assert (fresh(root).state, root.failed_reason) == ("failed", f"child {mid.pk} failed")
    assert fresh(root).finished_at is not None
    # BullMQ leaves the other children as they are: they still run, and change no parent.
    assert (fresh(sibling).state, fresh(cousin).state) == ("waiting", "waiting")
    job_execute(job_id=cousin.pk)
    assert (fresh(cousin).state, fresh(mid).state) == ("completed", "failed")
    flow = flow_of(flow_id)
    assert (flow.status, flow.error) == ("failed", {"message": f"child {mid.pk} failed"})
    assert runs(root.pk) == runs(mid.pk) == 0


def test_fail_parent_stops_where_a_parent_lacks_the_option(api):
    flow_id, (root, mid, bad) = create(
        api, node("test.sum", node("test.sum", node("test.boom", opts={"failParentOnFailure": True})))
    )
    job_execute(job_id=bad.pk)
    assert (fresh(mid).state, fresh(root).state) == ("failed", "waiting-children")
    assert flow_of(flow_id).status == "failed"


def test_a_cancelled_child_counts_as_a_failure_under_its_policy(api):
    _, (root, plain, ignored) = create(
        api, node("test.sum", leaf(1), leaf(2, opts={"ignoreDependencyOnFailure": True}))
    )
    actions.job_cancel(job=ignored)
    assert (fresh(root).state, root.pending_children) == ("waiting-children", 1)
    actions.job_cancel(job=plain)
    assert (fresh(root).state, root.pending_children) == ("waiting-children", 1)


def test_deleting_the_last_pending_child_lets_the_parent_go_on(api):
    _, (root, done, failed) = create(api, node("test.sum", leaf(7), node("test.boom")))
    job_execute(job_id=done.pk)
    job_execute(job_id=failed.pk)
    assert fresh(root).state == "waiting-children"
    actions.job_delete(job=fresh(failed))
    assert (fresh(root).state, root.pending_children) == ("waiting", 0)
    job_execute(job_id=root.pk)
    assert fresh(root).result == {"sum": 7, "children": 1, "ignored": []}


def test_deleting_a_completed_child_does_not_count_it_twice(api):
    _, (root, a, b) = create(api, node("test.sum", leaf(1), leaf(2)))
    job_execute(job_id=a.pk)
    actions.job_delete(job=fresh(a))
    assert (fresh(root).state, root.pending_children) == ("waiting-children", 1)


def test_cancelling_a_parent_cancels_its_subtree_and_deleting_it_deletes_the_flow(api):
    flow_id, (root, first, mid, second) = create(api, node("test.sum", leaf(1), node("test.sum", leaf(2))))
    actions.job_cancel(job=mid)
    assert (fresh(mid).state, fresh(second).state, fresh(first).state, fresh(root).state) == (
        "cancelled",
        "cancelled",
        "waiting",
        "waiting-children",
    )
    actions.job_delete(job=fresh(root))
    assert Job.objects.filter(flow_id=flow_id).count() == 0
    assert not Flow.objects.filter(flow_id=flow_id).exists()
