"""Django admin: schedules (list, add/change through the services, actions), jobs (filters, retry,
cancel), owner scoping for non-superuser staff, django-celery-beat hidden (the Queues board:
test_queues_board.py)."""

import pytest
from django.contrib import admin
from django_celery_beat.models import CrontabSchedule, PeriodicTask

from jobs.models import Job, JobState
from scheduling import services
from scheduling.models import Schedule

from .helpers import client_for

pytestmark = pytest.mark.django_db


def make_schedule(owner, cron="0 9 * * *", **extra) -> Schedule:
    return services.schedule_create(owner=owner, name="echo", data={"x": 1}, schedule={"cron": cron, **extra})


def action(client, url, name, rows) -> None:
    res = client.post(url, {"action": name, "_selected_action": [str(r.pk) for r in rows]})
    assert res.status_code == 302, res.content[:500]


def test_celery_beat_models_are_not_in_the_admin(admin_user):
    for model in (PeriodicTask, CrontabSchedule):
        assert not admin.site.is_registered(model)
    assert client_for(admin_user).get("/admin/django_celery_beat/periodictask/").status_code == 404


def test_schedule_changelist_shows_owner_kind_description_state(admin_user, owner):
    row = make_schedule(owner, tz="Europe/Berlin")
    res = client_for(admin_user).get("/admin/scheduling/schedule/?q=" + row.scheduler_id)
    html = res.content.decode()
    assert res.status_code == 200 and res.context["cl"].result_count == 1
    assert "At 09:00, every day (Europe/Berlin)" in html and ">owner<" in html and ">Active<" in html
    assert (
        client_for(admin_user)
        .get("/admin/scheduling/schedule/?state__exact=paused")
        .context["cl"]
        .result_count
        == 0
    )


def test_admin_add_form_creates_schedule_and_its_periodic_task(admin_user, owner):
    res = client_for(admin_user).post(
        "/admin/scheduling/schedule/add/",
        {
            "owner": str(owner.pk),
            "scheduler_id": "nightly",
            "name": "echo",
            "data": '{"a": 1}',
            "options": "",
            "kind": "cron",
            "cron_expression": "30 2 * * *",
            "time_zone": "Europe/Berlin",
            "every_ms": "",
            "at": "",
            "start_at": "",
            "end_at": "",
            "limit": "3",
            "overlap": "skip",
        },
    )
    assert res.status_code == 302, res.context["adminform"].form.errors
    row = Schedule.objects.get(scheduler_id="nightly")
    assert (row.owner, row.cron_expression, row.time_zone, row.limit, row.overlap, row.data) == (
        owner,
        "30 2 * * *",
        "Europe/Berlin",
        3,
        "skip",
        {"a": 1},
    )
    assert row.periodic_task.name == f"schedule:{row.pk}" and row.periodic_task.enabled


def test_admin_change_form_replaces_through_service(admin_user, owner):
    row = make_schedule(owner)
    client = client_for(admin_user)
    url = f"/admin/scheduling/schedule/{row.pk}/change/"
    form = client.get(url).context["adminform"].form
    assert (form.initial["cron_expression"], form.initial["time_zone"]) == ("0 9 * * *", "UTC")
    res = client.post(
        url,
        {
            "name": "echo",
            "data": "{}",
            "options": "",
            "kind": "every",
            "cron_expression": "",
            "time_zone": "UTC",
            "every_ms": "60000",
            "at": "",
            "start_at": "",
            "end_at": "",
            "limit": "",
            "overlap": "allow",
        },
    )
    assert res.status_code == 302
    row.refresh_from_db()
    assert (row.kind, row.every_ms, row.cron_expression, row.owner) == ("every", 60000, "", owner)
    # The projection uses the coarsest exact unit (scheduling.projection.project): 60,000 ms is 1 minute.
    assert (row.periodic_task.interval.every, row.periodic_task.interval.period) == (1, "minutes")
    assert Schedule.objects.count() == 1


def test_schedule_actions_pause_resume_trigger_duplicate(admin_user, owner):
    row = make_schedule(owner)
    client = client_for(admin_user)
    url = "/admin/scheduling/schedule/"
    action(client, url, "pause_schedules", [row])
    row.refresh_from_db()
    assert row.state == "paused" and not row.periodic_task.enabled
    action(client, url, "resume_schedules", [row])
    row.refresh_from_db()
    assert row.state == "active" and row.periodic_task.enabled
    action(client, url, "trigger_schedules", [row])
    assert list(Job.objects.filter(schedule=row).values_list("state", "fire_at")) == [("waiting", None)]
    action(client, url, "duplicate_schedules", [row])
    copy = Schedule.objects.exclude(pk=row.pk).get()
    assert (copy.owner, copy.cron_expression, copy.data) == (owner, "0 9 * * *", {"x": 1})
    assert copy.scheduler_id != row.scheduler_id


def test_delete_in_admin_removes_the_periodic_task(admin_user, owner):
    row = make_schedule(owner)
    task_id = row.periodic_task_id
    res = client_for(admin_user).post(f"/admin/scheduling/schedule/{row.pk}/delete/", {"post": "yes"})
    assert res.status_code == 302
    assert not Schedule.objects.exists() and not PeriodicTask.objects.filter(pk=task_id).exists()


def test_staff_see_only_their_own_rows(staff, owner):
    mine = make_schedule(staff)
    theirs = make_schedule(owner)
    Job.objects.create(owner=owner, name="echo", state=JobState.FAILED)
    own_job = Job.objects.create(owner=staff, name="echo", state=JobState.FAILED)
    client = client_for(staff)
    assert [r.pk for r in client.get("/admin/scheduling/schedule/").context["cl"].result_list] == [mine.pk]
    assert client.get(f"/admin/scheduling/schedule/{theirs.pk}/change/").status_code == 302  # "doesn't exist"
    assert [j.pk for j in client.get("/admin/jobs/job/").context["cl"].result_list] == [own_job.pk]
    owner_field = client.get("/admin/scheduling/schedule/add/").context["adminform"].form.fields["owner"]
    assert list(owner_field.queryset) == [staff]


def test_job_admin_filters_retry_and_cancel(admin_user, owner, other_user):
    failed = Job.objects.create(owner=owner, name="echo", state=JobState.FAILED, failed_reason="boom")
    waiting = Job.objects.create(owner=owner, name="echo", state=JobState.WAITING)
    done = Job.objects.create(owner=other_user, name="demo.progress", state=JobState.COMPLETED)
    client = client_for(admin_user)
    url = "/admin/jobs/job/"
    assert [j.pk for j in client.get(url + "?state__exact=failed").context["cl"].result_list] == [failed.pk]
    assert [
        j.pk for j in client.get(url + f"?owner__id__exact={other_user.pk}").context["cl"].result_list
    ] == [done.pk]
    assert [j.pk for j in client.get(url + "?name=demo.progress").context["cl"].result_list] == [done.pk]
    action(client, url, "retry_jobs", [failed, done])
    failed.refresh_from_db()
    done.refresh_from_db()
    assert (failed.state, failed.failed_reason, done.state) == ("waiting", "", "completed")
    action(client, url, "cancel_jobs", [waiting, done])
    waiting.refresh_from_db()
    assert (waiting.state, waiting.finished_at is not None) == ("cancelled", True)
    page = client.get(f"{url}{done.pk}/change/")
    assert page.status_code == 200 and b'name="_save"' not in page.content  # read-only
    choices = [name for name, _ in client.get(url).context["action_form"].fields["action"].choices]
    assert choices == ["", "retry_jobs", "cancel_jobs"]
    assert client.post(f"{url}{done.pk}/change/", {"state": "waiting"}).status_code == 403
    active = Job.objects.create(owner=owner, name="echo", state=JobState.ACTIVE)
    assert client.get(f"{url}{active.pk}/delete/").status_code == 403
    assert client.post(f"{url}{done.pk}/delete/", {"post": "yes"}).status_code == 302
    assert not Job.objects.filter(pk=done.pk).exists()
