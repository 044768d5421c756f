"""One builder for new job rows (issue 18: ``jobs.submission.job_build``): every path that makes a job
sets the same fields: a runnable job is ``waiting`` with ``enqueued_at`` (or ``delayed`` until
``run_at``), a job a schedule made carries the schedule's id and queue, skipped and failed fires are
finished when made."""

from datetime import UTC, datetime, timedelta

import pytest

from jobs.models import Job
from jobs.submission import job_submit, jobs_submit_bulk
from scheduling import services
from scheduling.models import Schedule

T0 = datetime(2030, 1, 1, tzinfo=UTC)
RUNNABLE = ("state", "queue", "scheduler_id", "fire_at", "priority", "run_at", "finished_at", "failed_reason")

pytestmark = pytest.mark.django_db


def schedule_in(owner, queue: str, **extra) -> Schedule:
    row = services.schedule_create(owner=owner, name="echo", data={"n": 1}, schedule={"every": 1000, **extra})
    # A schedule's queue is stored on the row (issue 16); set it as the queues API would.
    Schedule.objects.filter(pk=row.pk).update(queue=queue)
    row.refresh_from_db()
    return row


def fields(job: Job) -> dict:
    job.refresh_from_db()
    return {name: getattr(job, name) for name in RUNNABLE}


def test_a_fire_dispatched_by_beat_is_waiting_since_the_fire_in_the_schedules_queue(owner):
    row = schedule_in(owner, "schedQueue")
    fire_at = row.next_fire_at
    now = fire_at + timedelta(milliseconds=5)
    assert services.schedules_dispatch_due(now=now) == 1
    job = Job.objects.get(schedule=row)
    assert fields(job) == {
        "state": "waiting",
        "queue": "schedQueue",
        "scheduler_id": row.scheduler_id,
        "fire_at": fire_at,
        "priority": 0,
        "run_at": None,
        "finished_at": None,
        "failed_reason": "",
    }
    assert job.enqueued_at == now  # the bulk fire path used to leave it empty


def test_a_batch_of_fire_messages_makes_jobs_with_enqueued_at_and_the_schedules_queue(owner):
    row = schedule_in(owner, "flowQueue")
    assert services.schedules_fire(fires=[(row.pk, T0), (row.pk, T0 + timedelta(seconds=1))]) == 2
    jobs = list(Job.objects.filter(schedule=row).order_by("fire_at"))
    assert [(j.state, j.queue, j.fire_at) for j in jobs] == [
        ("waiting", "flowQueue", T0),
        ("waiting", "flowQueue", T0 + timedelta(seconds=1)),
    ]
    assert all(j.enqueued_at is not None for j in jobs)


def test_a_delayed_fire_waits_until_its_delay_without_enqueued_at(owner):
    row = schedule_in(owner, "schedQueue")
    Schedule.objects.filter(pk=row.pk).update(options={"delay": 60_000, "priority": 3})
    now = row.next_fire_at + timedelta(milliseconds=1)
    services.schedules_dispatch_due(now=now)
    job = Job.objects.get(schedule=row)
    assert (job.state, job.queue, job.priority, job.run_at, job.enqueued_at) == (
        "delayed",
        "schedQueue",
        3,
        now + timedelta(seconds=60),
        None,
    )


def test_a_skipped_fire_is_a_cancelled_job_in_the_schedules_queue(owner):
    row = schedule_in(owner, "schedQueue", overlap="skip")
    first = services.schedule_fire(schedule_id=row.pk, fire_at=T0)
    assert first is not None and first.queue == "schedQueue" and first.state == "waiting"
    assert services.schedule_fire(schedule_id=row.pk, fire_at=T0 + timedelta(seconds=1)) is None
    skipped = Job.objects.get(schedule=row, fire_at=T0 + timedelta(seconds=1))
    assert (skipped.state, skipped.queue, skipped.scheduler_id, skipped.failed_reason) == (
        "cancelled",
        "schedQueue",
        row.scheduler_id,
        "skipped: the previous run of this schedule was still waiting or active",
    )
    assert skipped.finished_at is not None and skipped.enqueued_at is None


def test_a_failed_fire_is_a_failed_job_without_data_in_the_schedules_queue(owner):
    row = schedule_in(owner, "flowQueue")
    Schedule.objects.filter(pk=row.pk).update(options={"attempts": "many"})
    assert services.schedules_fire(fires=[(row.pk, T0)]) == 1
    failed = Job.objects.get(schedule=row)
    assert (failed.state, failed.queue, failed.data, failed.fire_at, failed.scheduler_id) == (
        "failed",
        "flowQueue",
        None,
        T0,
        row.scheduler_id,
    )
    assert failed.failed_reason.startswith("fire failed: options")
    assert failed.finished_at is not None


def test_a_triggered_run_is_waiting_in_the_schedules_queue_without_a_fire_time(owner):
    row = schedule_in(owner, "schedQueue")
    job = services.schedule_trigger(schedule=row)
    assert fields(job) == {
        "state": "waiting",
        "queue": "schedQueue",
        "scheduler_id": row.scheduler_id,
        "fire_at": None,
        "priority": 0,
        "run_at": None,
        "finished_at": None,
        "failed_reason": "",
    }
    assert job.enqueued_at is not None


def test_submit_and_bulk_submit_set_the_same_fields(owner):
    one, created = job_submit(owner=owner, name="echo", data=1, options={"delay": 1000, "priority": 2})
    assert created
    many = jobs_submit_bulk(
        owner=owner,
        items=[{"name": "echo", "data": 2, "options": {"delay": 1000, "priority": 2}}, {"name": "echo"}],
    )
    delayed, waiting = (job for job, _ in many)
    for job in (one, delayed):
        job.refresh_from_db()
        assert (job.state, job.priority, job.queue, job.enqueued_at, job.schedule_id) == (
            "delayed",
            2,
            "jobQueue",
            None,
            None,
        )
        assert job.run_at is not None
    waiting.refresh_from_db()
    assert (waiting.state, waiting.queue, waiting.run_at) == ("waiting", "jobQueue", None)
    assert waiting.enqueued_at is not None
