"""Browser tests (Playwright + Debian's Chromium) against a real web server, worker and beat."""


import pytest
from playwright.sync_api import expect

from jobs.models import Job
from scheduling import services
from scheduling.models import Schedule
from tests.conftest import beat_and_worker_caught_up, wait_until

from .browser import signed_in_context

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_preview_shows_the_spring_forward_fire_times(stack, owner):
    base = stack["web"].base
    page = signed_in_context(stack["browser"], base, owner, timezone_id="Europe/Berlin").new_page()
    page.goto(base + "/app/schedules/new/?from=2028-03-24T12:00:00Z")
    page.fill("#id_cron_expression", "30 2 * * *")
    page.select_option("#id_time_zone", "Europe/Berlin")
    expect(page.locator("#preview-next time")).to_have_count(5)
    assert page.locator("#preview-next time").evaluate_all("els => els.map(e => e.dateTime)")[:3] == [
        "2028-03-25T01:30:00Z",
        "2028-03-26T01:00:00Z",
        "2028-03-27T00:30:00Z",
    ]
    expect(page.locator("#preview-description")).to_have_text("At 02:30, every day (Europe/Berlin)")
    page.fill("#id_cron_expression", "0 0 31 2 *")
    expect(page.locator('[data-errors-for="cron_expression"] li')).to_have_text(
        "Day-of-month 31 never occurs in February"
    )
    # Start is typed in the viewer's zone (Europe/Berlin, summer time): the script sends it as UTC.
    page.check("input[name=kind][value=every]")
    page.fill("#id_every", "1")
    page.select_option("#id_every_unit", "h")
    page.fill("#id_start_at", "2028-07-01T09:00:00")
    expect(page.locator("#preview-next time").first).to_have_attribute("datetime", "2028-07-01T07:00:00Z")
    expect(page.locator("#preview-description")).to_have_text("Every hour")


def test_schedule_made_in_the_form_runs_twice_and_the_page_shows_both_runs(stack, owner):
    base = stack["web"].base
    page = signed_in_context(stack["browser"], base, owner).new_page()
    page.goto(base + "/app/schedules/new/")
    page.select_option("#id_name", "echo")
    page.fill("#id_data", '{"hello": "browser"}')
    page.check("input[name=kind][value=every]")
    page.fill("#id_every", "2")
    page.select_option("#id_every_unit", "s")
    page.fill("#id_limit", "2")
    page.click("#schedule-form button[type=submit]")
    page.wait_for_url("**/app/schedules/sch_*/")
    row = Schedule.objects.get(owner=owner)
    assert (row.every_ms, row.limit, row.data) == (2000, 2, {"hello": "browser"})

    # The page refreshes its runs by itself (static/js/refresh.js): no reload here.
    expect(page.locator("#runs .badge.completed")).to_have_count(2, timeout=40_000)
    expect(page.locator("#schedule-state")).to_have_text("ended")
    expect(page.locator("#run-count")).to_have_text("2 of 2")
    assert (
        list(Job.objects.filter(schedule=row).values_list("state", "result"))
        == [("completed", {"hello": "browser"})] * 2
    )


def test_admin_pauses_a_schedule_and_it_stops_firing(stack, owner, admin_user):
    row = services.schedule_create(owner=owner, name="echo", data=None, schedule={"repeat": {"every": 1000}})
    assert wait_until(lambda: Job.objects.filter(schedule=row).count() >= 1, 30)
    base = stack["web"].base
    page = signed_in_context(stack["browser"], base, admin_user).new_page()
    page.goto(base + "/admin/scheduling/schedule/")
    page.check(f"input[name=_selected_action][value='{row.pk}']")
    page.select_option("select[name=action]", "pause_schedules")
    page.click("button[name=index]")
    expect(page.locator(".messagelist")).to_contain_text("1 schedule(s) paused.")
    row.refresh_from_db()
    assert row.state == "paused"
    # A fire dispatched just before the pause may still become a job: wait until beat and the worker
    # are past it, then until they have run on for a while, and the schedule has no new job.
    assert beat_and_worker_caught_up(owner)
    settled = Job.objects.filter(schedule=row).count()
    assert beat_and_worker_caught_up(owner, fires=3)
    assert Job.objects.filter(schedule=row).count() == settled
