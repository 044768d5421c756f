"""Flows end to end with real worker and beat processes: a three-level flow over two queues served
by different workers, each policy of a failing child, a worker SIGKILLed while a child runs, cascade
cancel and delete."""

from __future__ import annotations

import pytest

from flows.models import Flow
from jobs.models import Job
from tests.conftest import start_beat, start_worker, wait_until
from tests.flows.conftest import FLOW_HANDLERS_ENV, leaf, node
from tests.flows.handlers_for_tests import runs

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

FAST_ENV = {
    **FLOW_HANDLERS_ENV,
    "JOB_RECONCILE_EVERY_S": "1",
    "JOB_WORKER_HEARTBEAT_S": "0.5",
    "JOB_WORKER_DEAD_AFTER_S": "4",
}


def _flow(flow_id: str) -> Flow:
    return Flow.objects.get(flow_id=flow_id)


def _jobs(flow_id: str) -> list[Job]:
    return list(Job.objects.filter(flow_id=flow_id).order_by("pk"))


def _create(api, tree) -> str:
    response = api.post("/flows", tree, format="json")
    assert response.status_code == 201, response.content
    return response.json()["flowId"]


def test_three_levels_on_two_queues_served_by_different_workers(api):
    tree = node(
        "test.sum",
        leaf(1, queueName="flowQueue"),
        node(
            "test.sum",
            leaf(10, queueName="flowQueue"),
            leaf(20, queueName="schedQueue"),
            queueName="schedQueue",
            data={"add": 100},
        ),
        flowname="sum over two queues",
        queueName="flowQueue",
        data={"add": 1000},
    )
    flows_worker = start_worker(queues="jobs.flowQueue", name="flows-q1", **FLOW_HANDLERS_ENV)
    sched_worker = None
    try:
        sched_worker = start_worker(queues="jobs.schedQueue", name="flows-q2", **FLOW_HANDLERS_ENV)
        flow_id = _create(api, tree)
        done = wait_until(lambda: _flow(flow_id).status == "completed", 90, 0.2)
        assert done, (flows_worker.output()[-3000:], sched_worker.output()[-3000:])
        root, first, mid, leaf2, leaf3 = _jobs(flow_id)
        assert root.result == {"sum": 1131, "children": 2, "ignored": []}
        assert mid.result == {"sum": 130, "children": 2, "ignored": []}
        flow = _flow(flow_id)
        assert (flow.result, flow.error, flow.progress) == (
            root.result,
            None,
            {"total": 5, "completed": 5, "failed": 0, "percentage": 100},
        )
        by_pid = {flows_worker.proc.pid: "flowQueue", sched_worker.proc.pid: "schedQueue"}
        for job in (root, first, mid, leaf2, leaf3):
            assert job.state == "completed"
            assert by_pid[int(job.worker.rsplit(":", 1)[1])] == job.queue, (job.name, job.queue, job.worker)
            assert runs(job.pk) == 1
        # The parents started after their children finished.
        assert mid.started_at >= max(leaf2.finished_at, leaf3.finished_at)
        assert root.started_at >= max(first.finished_at, mid.finished_at)
    finally:
        for proc in (sched_worker, flows_worker):
            if proc is not None:
                proc.stop()


def test_each_policy_of_a_failing_child(api):
    def tree(opts):
        return {
            "name": "test.sum",
            "children": [
                {"name": "test.value", "data": {"value": 4}},
                {"name": "test.boom", "opts": opts},
            ],
        }

    worker = start_worker(queues="jobs", name="flows-policies", **FLOW_HANDLERS_ENV)
    try:
        default = _create(api, tree({}))
        ignore = _create(api, tree({"ignoreDependencyOnFailure": True}))
        fail = _create(api, tree({"failParentOnFailure": True}))
        assert wait_until(
            lambda: (
                _flow(ignore).status == "completed"
                and _flow(fail).status == "failed"
                and _flow(default).status == "failed"
            ),
            60,
            0.2,
        ), worker.output()[-3000:]
        root, ok, bad = _jobs(ignore)
        assert root.result == {"sum": 4, "children": 1, "ignored": ["RuntimeError: boom"]}
        root, ok, bad = _jobs(fail)
        assert (root.state, root.failed_reason, runs(root.pk)) == ("failed", f"child {bad.pk} failed", 0)
        assert _flow(fail).error == {"message": f"child {bad.pk} failed"}
        # The default: the parent waits (BullMQ); its other child completed, the failed one holds it.
        assert wait_until(lambda: _jobs(default)[1].state == "completed", 30)
        root, ok, bad = _jobs(default)
        assert (root.state, root.pending_children, bad.state, runs(root.pk)) == (
            "waiting-children",
            1,
            "failed",
            0,
        )
        assert _flow(default).error == {"message": f"job {bad.pk} failed: RuntimeError: boom"}
    finally:
        worker.stop()


def test_a_worker_killed_while_a_child_runs_the_flow_still_completes_once(api):
    tree = {
        "name": "test.sum",
        "queueName": "flowQueue",
        "children": [
            {"name": "test.value", "queueName": "flowQueue", "data": {"value": 5, "sleepMs": 4000}},
            {"name": "test.value", "queueName": "flowQueue", "data": {"value": 6}},
        ],
    }
    beat = start_beat(name="flows-kill-beat", **FAST_ENV)
    doomed = rescue = None
    try:
        doomed = start_worker(queues="jobs.flowQueue", name="flows-doomed", **FAST_ENV)
        flow_id = _create(api, tree)
        root, slow, quick = _jobs(flow_id)
        assert wait_until(
            lambda: Job.objects.get(pk=slow.pk).state == "active" and runs(slow.pk) == 1, 60, 0.1
        )
        doomed.kill()
        rescue = start_worker(queues="jobs.flowQueue", name="flows-rescue", **FAST_ENV)
        assert wait_until(lambda: _flow(flow_id).status == "completed", 120, 0.3), (
            rescue.output()[-3000:],
            beat.output()[-3000:],
        )
        root, slow, quick = _jobs(flow_id)
        assert root.result == {"sum": 11, "children": 2, "ignored": []}
        assert [e["outcome"] for e in slow.attempt_history] == ["stalled", "completed"]
        assert (slow.attempts_made, slow.stalled_count) == (1, 1)
        assert (runs(root.pk), runs(slow.pk), runs(quick.pk)) == (1, 2, 1)  # the killed run, then its rerun
        assert root.pending_children == 0
    finally:
        for proc in (rescue, doomed, beat):
            if proc is not None:
                proc.stop()


def test_cancel_and_delete_cascade_to_running_jobs(api, owner):
    tree = {
        "name": "test.sum",
        "children": [
            {"name": "test.value", "data": {"value": 1, "sleepMs": 30000}},
            {
                "name": "test.sum",
                "children": [{"name": "test.value", "data": {"value": 2, "sleepMs": 30000}}],
            },
        ],
    }
    worker = start_worker(queues="jobs", name="flows-cancel", **FLOW_HANDLERS_ENV)
    try:
        # One flow at a time: its two leaves take both pool processes (concurrency 2).
        first = _create(api, tree)
        assert wait_until(lambda: Job.objects.filter(flow_id=first, state="active").count() == 2, 60, 0.1), (
            worker.output()[-3000:]
        )
        response = api.post(f"/flows/{first}/cancel")
        assert response.status_code == 200
        assert wait_until(
            lambda: (
                _flow(first).status == "cancelled"
                and not Job.objects.filter(flow_id=first).exclude(state="cancelled").exists()
            ),
            30,
            0.1,
        ), worker.output()[-3000:]
        assert [j.failed_reason for j in _jobs(first)] == [
            "cancelled: before it ran",
            "cancelled: while active",
            "cancelled: before it ran",
            "cancelled: while active",
        ]
        second = _create(api, tree)
        assert wait_until(lambda: Job.objects.filter(flow_id=second, state="active").count() == 2, 60, 0.1)
        response = api.delete(f"/flows/{second}")
        assert (response.status_code, response.json()["deletedJobs"]["total"]) == (200, 4)
        assert (
            not Job.objects.filter(flow_id=second).exists()
            and not Flow.objects.filter(flow_id=second).exists()
        )
        # The deleted flow's two running handlers stopped (a deleted job reads as cancelled): both pool
        # processes are free again, so two new jobs run side by side.
        pair = [
            api.post(
                "/jobs/submit", {"name": "test.value", "data": {"value": 0, "sleepMs": 1500}}, format="json"
            ).json()["id"]
            for _ in range(2)
        ]
        assert wait_until(lambda: Job.objects.filter(pk__in=pair, state="active").count() == 2, 20, 0.05)
        assert not Job.objects.filter(flow_id=second).exists()
    finally:
        worker.stop()
