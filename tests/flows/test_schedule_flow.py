"""A schedule may fire a flow: its ``flow`` key (child jobs) under the schedule's own job as the root;
each fire creates the flow once per (schedule, fire time)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from flows.models import Flow
from jobs.models import Job
from scheduling import services
from scheduling.models import Schedule
from tests.conftest import start_beat, start_worker, wait_until
from tests.flows.conftest import FLOW_HANDLERS_ENV, leaf, node

CHILDREN = [leaf(1, queueName="flowQueue"), node("test.sum", leaf(10), leaf(20), data={"add": 100})]
FIRE = datetime(2030, 1, 1, 9, 0, tzinfo=UTC)


def _schedule(api, **extra):
    body = {
        "name": "test.sum",
        "data": {"add": 1000},
        "schedule": {"cron": "0 9 * * *"},
        "flow": CHILDREN,
        **extra,
    }
    return api.post("/jobs/schedule", body, format="json")


@pytest.mark.django_db
def test_the_flow_key_is_stored_answered_and_checked_by_path(api):
    response = _schedule(api)
    assert response.status_code == 201, response.content
    assert response.json()["flow"] == CHILDREN
    response = _schedule(api, flow=[leaf(1), node("test.sum", node("no.such"), leaf(2))])
    assert response.status_code == 400
    (message,) = response.json()["errors"]["flow.1.children.0.name"]
    assert message.startswith("flow.1.children.0.name: no handler named 'no.such'")
    response = _schedule(api, flow=[leaf(1), node("test.sum", leaf(2, opts={"jobId": "once"}))])
    assert response.json()["errors"] == {
        "flow.1.children.0.opts.jobId": [
            "flow.1.children.0.opts.jobId: a schedule's flow makes new jobs at every fire; drop the custom id"
        ]
    }
    assert _schedule(api, flow=[]).json()["errors"] == {
        "flow": ["flow: a non-empty list of child jobs {name, queueName, data, opts, children}"]
    }
    assert Schedule.objects.count() == 1


@pytest.mark.django_db
def test_put_replaces_patch_changes_or_clears_the_flow(api):
    scheduler_id = _schedule(api).json()["schedulerId"]
    url = f"/jobs/schedule/{scheduler_id}"
    response = api.patch(url, {"data": {"add": 1}}, format="json")
    assert (response.status_code, response.json()["flow"]) == (200, CHILDREN)  # kept
    response = api.patch(url, {"flow": [leaf(5)]}, format="json")
    assert response.json()["flow"] == [leaf(5)]
    response = api.patch(url, {"flow": None}, format="json")
    assert response.json()["flow"] is None
    body = {"name": "test.sum", "data": None, "schedule": {"cron": "0 9 * * *"}, "flow": [leaf(7)]}
    assert api.put(url, body, format="json").json()["flow"] == [leaf(7)]
    assert api.put(url, {**body, "flow": None}, format="json").json()["flow"] is None


@pytest.mark.django_db
def test_each_fire_creates_the_flow_once(api, owner):
    row = Schedule.objects.get(scheduler_id=_schedule(api, options={"attempts": 2}).json()["schedulerId"])
    root = services.schedule_fire(schedule_id=row.pk, fire_at=FIRE)
    assert services.schedule_fire(schedule_id=row.pk, fire_at=FIRE) == root  # a redelivered fire
    assert services.schedules_fire(fires=[(row.pk, FIRE)]) == 0
    flow = Flow.objects.get()
    assert (flow.root_id, flow.flowname, flow.owner) == (root.pk, row.scheduler_id, owner)
    jobs = list(Job.objects.filter(flow_id=flow.flow_id).order_by("pk"))
    assert [(j.name, j.queue, j.state, j.pending_children, j.data) for j in jobs] == [
        ("test.sum", "jobQueue", "waiting-children", 2, {"add": 1000}),
        ("test.value", "flowQueue", "waiting", 0, {"value": 1}),
        ("test.sum", "jobQueue", "waiting-children", 2, {"add": 100}),
        ("test.value", "jobQueue", "waiting", 0, {"value": 10}),
        ("test.value", "jobQueue", "waiting", 0, {"value": 20}),
    ]
    assert (root.schedule_id, root.fire_at, root.options) == (row.pk, FIRE, {"attempts": 2})
    assert all(j.schedule_id is None for j in jobs[1:])
    # The batch path and beat's dispatch make flows too, one per fire.
    later = FIRE + timedelta(days=1)
    assert services.schedules_fire(fires=[(row.pk, later)]) == 1
    Schedule.objects.filter(pk=row.pk).update(next_fire_at=FIRE + timedelta(days=2))
    assert (
        services.schedules_dispatch_due(now=FIRE + timedelta(days=2, seconds=1), send=lambda *a, **k: None)
        >= 1
    )
    assert Flow.objects.count() == 3
    assert Job.objects.filter(schedule=row).count() == 3
    manual = services.schedule_trigger(schedule=row)
    assert (manual.state, manual.fire_at, Flow.objects.count()) == ("waiting-children", None, 4)


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_a_schedule_fires_flows_that_complete_with_exact_results(owner):
    row = services.schedule_create(
        owner=owner,
        name="test.sum",
        data={"add": 1000},
        schedule={"repeat": {"every": 1000}, "limit": 2},
        flow=[leaf(1), node("test.sum", leaf(10), leaf(20), data={"add": 100})],
    )
    beat = start_beat(name="flows-schedule-beat", **FLOW_HANDLERS_ENV)
    worker = None
    try:
        worker = start_worker(queues="jobs,schedules", name="flows-schedule", **FLOW_HANDLERS_ENV)
        done = wait_until(lambda: Flow.objects.filter(status="completed").count() == 2, 90, 0.3)
        assert done, (worker.output()[-3000:], beat.output()[-3000:])
        roots = Job.objects.filter(schedule=row).order_by("fire_at")
        assert [r.result for r in roots] == [{"sum": 1131, "children": 2, "ignored": []}] * 2
        assert [r.fire_at for r in roots] == sorted({r.fire_at for r in roots})
        assert Job.objects.count() == 10
    finally:
        for proc in (worker, beat):
            if proc is not None:
                proc.stop()
