"""Schedule pages: list, new/edit form (through the services), detail with runs, action buttons, 404s."""

from datetime import UTC, datetime

import pytest

from jobs.models import Job, JobState
from scheduling import services
from scheduling.models import Schedule

from .helpers import client_for, schedule_form

pytestmark = pytest.mark.django_db


def make_schedule(owner, **spec) -> Schedule:
    return services.schedule_create(
        owner=owner,
        name="echo",
        data={"n": 1},
        schedule=spec or {"cron": "30 2 * * *", "tz": "Europe/Berlin"},
    )


def test_anonymous_is_sent_to_login():
    from django.test import Client

    res = Client().get("/app/schedules/")
    assert res.status_code == 302 and res["Location"] == "/login/?next=/app/schedules/"


def test_list_shows_only_own_schedules_with_description_zone_and_state(owner, other_user):
    mine = make_schedule(owner)
    make_schedule(other_user)
    res = client_for(owner).get("/app/schedules/")
    assert res.status_code == 200
    assert [item["row"].pk for item in res.context["rows"]] == [mine.pk]
    html = res.content.decode()
    assert "At 02:30, every day (Europe/Berlin)" in html
    assert mine.scheduler_id in html and ">active<" in html


def test_new_form_defaults_to_the_viewers_time_zone(owner):
    client = client_for(owner)
    client.cookies["tz"] = "Asia/Tokyo"
    assert client.get("/app/schedules/new/").context["form"].initial["time_zone"] == "Asia/Tokyo"


def test_create_cron_schedule_through_form(owner):
    res = client_for(owner).post("/app/schedules/new/", schedule_form())
    row = Schedule.objects.get(owner=owner)
    assert res.status_code == 302 and res["Location"] == f"/app/schedules/{row.scheduler_id}/"
    assert (row.kind, row.cron_expression, row.time_zone, row.data, row.overlap) == (
        "cron",
        "30 2 * * *",
        "Europe/Berlin",
        {"msg": "hi"},
        "allow",
    )
    assert row.periodic_task is not None and row.periodic_task.crontab.timezone.key == "Europe/Berlin"


def test_create_interval_schedule_with_limit_in_seconds(owner):
    res = client_for(owner).post(
        "/app/schedules/new/",
        schedule_form(kind="every", every="2", every_unit="s", limit="2", overlap="skip"),
    )
    assert res.status_code == 302
    row = Schedule.objects.get(owner=owner)
    assert (row.kind, row.every_ms, row.limit, row.overlap) == ("every", 2000, 2, "skip")


def test_start_and_end_are_read_in_the_viewers_time_zone(owner):
    client = client_for(owner)
    client.cookies["tz"] = "America/New_York"
    res = client.post(
        "/app/schedules/new/", schedule_form(start_at="2031-01-10T09:00", end_at="2031-02-10T09:00")
    )
    assert res.status_code == 302
    row = Schedule.objects.get(owner=owner)
    assert row.start_at == datetime(2031, 1, 10, 14, 0, tzinfo=UTC)
    assert row.end_at == datetime(2031, 2, 10, 14, 0, tzinfo=UTC)


def test_field_errors_are_shown_inline_and_nothing_is_saved(owner):
    res = client_for(owner).post("/app/schedules/new/", schedule_form(cron_expression="0 0 31 2 *"))
    assert res.status_code == 200
    errors = res.context["form"].errors
    assert errors == {"cron_expression": ["Day-of-month 31 never occurs in February"]}
    assert 'data-errors-for="cron_expression"><li>Day-of-month 31 never occurs in February</li>' in (
        res.content.decode()
    )
    assert not Schedule.objects.exists()


def test_bad_json_data_is_a_field_error(owner):
    res = client_for(owner).post("/app/schedules/new/", schedule_form(data="{nope"))
    assert res.status_code == 200 and list(res.context["form"].errors) == ["data"]


@pytest.mark.parametrize(
    "kind, field, message",
    [
        ("at", "at", "Enter when it runs."),
        ("cron", "cron_expression", "Enter a cron expression, e.g. 30 2 * * * (02:30 daily)."),
        ("every", "every", "Enter how often it runs, e.g. every 30 seconds."),
    ],
)
def test_a_kind_without_its_field_asks_for_it_in_the_forms_words(owner, kind, field, message):
    res = client_for(owner).post(
        "/app/schedules/new/", schedule_form(kind=kind, cron_expression="", every="", at="")
    )
    assert res.status_code == 200
    assert res.context["form"].errors == {field: [message]}
    assert not Schedule.objects.exists()


def test_new_form_seeds_preview_from_query(owner):
    res = client_for(owner).get("/app/schedules/new/?from=2028-03-24T12:00:00Z")
    assert res.status_code == 200
    assert 'value="2028-03-24T12:00:00Z"' in res.content.decode()


def test_edit_prefills_and_replaces_through_service(owner):
    row = make_schedule(owner, repeat={"every": 90_000, "limit": 4})
    client = client_for(owner)
    res = client.get(f"/app/schedules/{row.scheduler_id}/edit/")
    assert res.status_code == 200
    initial = res.context["form"].initial
    assert (initial["kind"], initial["every"], initial["every_unit"], initial["limit"]) == (
        "every",
        90,
        "s",
        4,
    )
    res = client.post(
        f"/app/schedules/{row.scheduler_id}/edit/", schedule_form(cron_expression="0 9 * * 1-5")
    )
    assert res.status_code == 302
    row.refresh_from_db()
    assert (row.kind, row.cron_expression, row.every_ms, row.limit) == ("cron", "0 9 * * 1-5", None, None)
    assert Schedule.objects.count() == 1


def test_detail_lists_runs_and_next_fire_times(owner):
    row = make_schedule(owner)
    fire = datetime(2030, 1, 1, 1, 30, tzinfo=UTC)
    job = Job.objects.create(owner=owner, name="echo", schedule=row, fire_at=fire, state=JobState.COMPLETED)
    res = client_for(owner).get(f"/app/schedules/{row.scheduler_id}/")
    assert res.status_code == 200
    assert [j.pk for j in res.context["jobs"]] == [job.pk]
    assert len(res.context["next"]) == 5
    html = res.content.decode()
    assert f'href="/app/jobs/{job.pk}/"' in html
    assert '<time datetime="2030-01-01T01:30:00Z" title="2030-01-01 01:30:00 UTC">' in html


def test_buttons_pause_resume_trigger_delete(owner):
    row = make_schedule(owner)
    client = client_for(owner)
    base = f"/app/schedules/{row.scheduler_id}"
    assert client.post(f"{base}/pause/")["Location"] == f"{base}/"
    row.refresh_from_db()
    assert (row.state, row.next_fire_at) == ("paused", None)
    client.post(f"{base}/resume/")
    row.refresh_from_db()
    assert row.state == "active" and row.next_fire_at is not None
    client.post(f"{base}/trigger/")
    assert list(Job.objects.filter(schedule=row).values_list("name", "fire_at")) == [("echo", None)]
    assert client.post(f"{base}/delete/")["Location"] == "/app/schedules/"
    assert not Schedule.objects.filter(pk=row.pk).exists()


def test_actions_need_post(owner):
    row = make_schedule(owner)
    assert client_for(owner).get(f"/app/schedules/{row.scheduler_id}/pause/").status_code == 405


@pytest.mark.parametrize(
    "suffix, method",
    [
        ("/", "get"),
        ("/edit/", "get"),
        ("/edit/", "post"),
        ("/pause/", "post"),
        ("/trigger/", "post"),
        ("/delete/", "post"),
    ],
)
def test_outsider_gets_404(owner, other_user, suffix, method):
    row = make_schedule(owner)
    res = getattr(client_for(other_user), method)(
        f"/app/schedules/{row.scheduler_id}{suffix}", schedule_form()
    )
    assert res.status_code == 404 and b"<h1>Not found</h1>" in res.content
    row.refresh_from_db()
    assert row.state == "active" and row.cron_expression == "30 2 * * *"
    assert not Job.objects.exists()


def test_page_preview_reads_the_form_and_answers_in_its_words(owner):
    client = client_for(owner)
    client.cookies["tz"] = "Asia/Tokyo"
    fresh = client.post("/app/schedules/preview/", schedule_form(cron_expression="")).json()
    assert fresh == {
        "description": "",
        "times": [],
        "errors": {"cron_expression": ["Enter a cron expression, e.g. 30 2 * * * (02:30 daily)."]},
    }
    spring = client.post("/app/schedules/preview/", schedule_form(preview_from="2028-03-24T12:00:00Z")).json()
    assert spring["errors"] == {} and spring["description"] == "At 02:30, every day (Europe/Berlin)"
    assert len(spring["times"]) == 5
    # Spring forward in Berlin: 02:30 does not exist on 26 March 2028, the run is at 03:00 CEST.
    assert spring["times"][1] == (
        '<time datetime="2028-03-26T01:00:00Z" title="2028-03-26 01:00:00 UTC">Sun 26 Mar 2028 10:00:00 JST'
        '</time> <span class="other-zone">(Sun 26 Mar 03:00 CEST in Europe/Berlin)</span>'
    )
    half = client.post("/app/schedules/preview/", schedule_form(kind="every", every="0.5")).json()
    assert half["errors"] == {"every": ["At least 1 second."]} and half["times"] == []
    once = client.post("/app/schedules/preview/", schedule_form(kind="at", at="2031-01-10T09:00")).json()
    assert once["description"] == (
        'Once at <time datetime="2031-01-10T00:00:00Z" title="2031-01-10 00:00:00 UTC">'
        "Fri 10 Jan 2031 09:00:00 JST</time>"
    )
    assert not Schedule.objects.exists()


def test_page_preview_needs_a_signed_in_post(owner):
    from django.test import Client

    assert Client().post("/app/schedules/preview/", schedule_form())["Location"].startswith("/login/")
    assert client_for(owner).get("/app/schedules/preview/").status_code == 405


def test_handler_is_the_same_picker_as_on_the_new_job_form(owner):
    schedule_html = client_for(owner).get("/app/schedules/new/").content.decode()
    job_html = client_for(owner).get("/app/jobs/new/").content.decode()
    option = '<option value="echo">echo — Returns its data unchanged.</option>'
    assert option in schedule_html and option in job_html
    assert 'list="handler-names"' not in schedule_html
