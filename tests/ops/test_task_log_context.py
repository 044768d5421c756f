"""A task's log context comes from its own arguments (issue 18, item 3): a task declares which argument
holds its job id (``log_context``); what only its work knows (a schedule's string id) it binds itself.
``config.logs`` names no task and reads no table."""

from datetime import UTC, datetime

import pytest

from config import logs
from jobs.tasks import run_job, run_jobs
from scheduling import firing, services
from scheduling.tasks import fire_schedule
from webhooks.tasks import delivery_send

pytestmark = pytest.mark.django_db


def test_a_task_declares_the_argument_that_is_its_job_id():
    assert logs.task_log_context(run_job, [42], {}) == {"job_id": "42"}
    assert logs.task_log_context(run_job, [], {"job_id": 7}) == {"job_id": "7"}
    assert logs.task_log_context(run_jobs, [[1, 2]], {}) == {}
    assert logs.task_log_context(delivery_send, [3], {}) == {}


def test_the_context_is_set_around_a_task_without_a_query(django_assert_num_queries):
    with django_assert_num_queries(0):
        logs._task_context_start(task_id="t-1", task=fire_schedule, args=[123], kwargs={})
    try:
        context = (logs.task_id_var.get(), logs.job_id_var.get(), logs.schedule_id_var.get())
        assert context == ("t-1", None, None)
    finally:
        logs._task_context_end(task_id="t-1")
    assert logs.task_id_var.get() is None


def test_a_fire_binds_its_schedules_string_id_for_the_tasks_records(owner, monkeypatch):
    row = services.schedule_create(
        owner=owner, scheduler_id="nightly", name="echo", data=None, schedule={"cron": "0 3 * * *"}
    )
    seen = []
    real = firing.job_submit

    def submit(**kwargs):
        seen.append(logs.schedule_id_var.get())
        return real(**kwargs)

    monkeypatch.setattr(firing, "job_submit", submit)
    before = logs.schedule_id_var.get()
    fire_schedule.apply(args=[row.pk, datetime(2030, 1, 1, 3, tzinfo=UTC).isoformat()])
    assert seen == ["nightly"]
    assert logs.schedule_id_var.get() == before  # restored when the fire ended
