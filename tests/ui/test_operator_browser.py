"""Issue 17 in a real browser (Debian's Chromium through Playwright) against a real web server, worker
and beat: an operator cancels, retries and deletes from the job page and from the Queues board; a
failed job shows its stack trace and attempts; the dashboard and the jobs list update while a job
runs; no page shows a raw ISO time; the schedule form shows no error before typing and its errors
do not move the layout; the admin job list fits 1280 px."""

import re
from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from jobs import submission
from jobs.models import Job
from scheduling import services
from tests.conftest import wait_until
from tests.live.conftest import api_call

from .browser import signed_in_context

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ISO = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")
# Long enough to act on while it runs (about 6 s), short enough to wait for.
SLOW = {"name": "demo.progress", "data": {"steps": 30, "delayMs": 200}}
# Still running when the operator cancels it however loaded the machine is (60 s; cancelled within a step).
LONG = {"name": "demo.progress", "data": {"steps": 300, "delayMs": 200}}


def page_for(stack, user, **options):
    options.setdefault("viewport", {"width": 1280, "height": 900})
    return signed_in_context(stack["browser"], stack["web"].base, user, **options).new_page()


def submit(stack, user, body) -> int:
    status, job = api_call(stack["web"].base, "POST", "/jobs/submit", user, body)
    assert status == 201
    return int(job["jobId"])


def state_of(job_id: int) -> str:
    return Job.objects.get(pk=job_id).state


def test_operator_cancels_retries_and_deletes_from_the_job_page(stack, owner):
    base = stack["web"].base
    job_id = submit(stack, owner, SLOW)
    page = page_for(stack, owner)
    page.goto(f"{base}/app/jobs/{job_id}/")
    expect(page.locator("#job-state")).to_have_text("active", timeout=20_000)
    page.click("button[data-action=cancel]")
    # The worker sees the request at its next step; the page follows without a reload.
    expect(page.locator("#job-state")).to_have_text("cancelled", timeout=20_000)
    assert state_of(job_id) == "cancelled"
    expect(page.locator("#failed-reason")).to_have_text("cancelled: while active")
    page.click("button[data-action=retry]")
    expect(page.locator(".messages")).to_contain_text(f"Job #{job_id} put back to waiting.")
    expect(page.locator("#job-state")).to_have_text("completed", timeout=30_000)
    expect(page.locator("#attempts tbody tr")).to_have_count(2)
    assert page.locator("#attempts tbody tr").first.locator(".badge").inner_text() == "completed"
    page.on("dialog", lambda dialog: dialog.accept())
    page.click("button[data-action=delete]")
    page.wait_for_url(f"{base}/app/jobs/")
    expect(page.locator(".messages")).to_contain_text(f"Job #{job_id} deleted.")
    assert not Job.objects.filter(pk=job_id).exists()


def test_run_now_promotes_a_delayed_job(stack, owner):
    base = stack["web"].base
    job_id = submit(stack, owner, {"name": "echo", "data": {"later": 1}, "options": {"delay": 3_600_000}})
    page = page_for(stack, owner)
    page.goto(f"{base}/app/jobs/{job_id}/")
    expect(page.locator("#job-run-at time")).to_have_count(1)
    page.click("button[data-action=promote]")
    expect(page.locator(".messages")).to_contain_text(f"Job #{job_id} promoted: it runs now.")
    expect(page.locator("#job-state")).to_have_text("completed", timeout=20_000)
    expect(page.locator("button[data-action=promote]")).to_have_count(0)


def test_a_failed_job_shows_its_reason_stack_trace_and_attempts(stack, owner):
    job_id = submit(
        stack,
        owner,
        {"name": "http.request", "data": {"url": "http://nowhere.invalid/ping"}, "options": {"attempts": 2}},
    )
    assert wait_until(lambda: state_of(job_id) == "failed", 30)
    page = page_for(stack, owner)
    page.goto(f"{stack['web'].base}/app/jobs/{job_id}/")
    expect(page.locator("#failed-reason")).to_contain_text("TargetUnresolved: url: host 'nowhere.invalid'")
    stack_trace = page.locator("#stacktrace")
    expect(stack_trace).to_be_visible()
    assert "Traceback (most recent call last)" in stack_trace.inner_text()
    expect(page.locator("#attempts tbody tr")).to_have_count(2)
    assert page.locator("#attempts tbody tr .badge").all_inner_texts() == ["failed", "failed"]
    # JSON and the stack trace stay inside their cards.
    for selector in ("#stacktrace", "pre.json"):
        for box in page.locator(selector).all():
            card = box.evaluate_handle("el => el.closest('.card')")
            assert box.bounding_box()["x"] + box.bounding_box()["width"] <= (
                card.as_element().bounding_box()["x"] + card.as_element().bounding_box()["width"] + 1
            )


def test_dashboard_and_jobs_list_update_while_a_job_runs(stack, owner):
    base = stack["web"].base
    submission.job_submit(owner=owner, name="echo", data=0)
    assert wait_until(lambda: Job.objects.filter(owner=owner, state="completed").count() == 1, 20)
    dashboard = page_for(stack, owner)
    dashboard.goto(base + "/")
    expect(dashboard.locator("[data-live-status]")).to_have_text("live", timeout=15_000)
    dashboard.evaluate("window.__loaded = 'yes'")
    jobs = page_for(stack, owner)
    jobs.goto(base + "/app/jobs/")
    expect(jobs.locator("[data-live-status]")).to_have_text("live", timeout=15_000)
    jobs.evaluate("window.__loaded = 'yes'")
    expect(dashboard.locator('strong[data-state="completed"]')).to_have_text("1")

    job_id = submit(stack, owner, SLOW)
    expect(dashboard.locator('strong[data-state="active"]')).to_have_text("1", timeout=20_000)
    row = jobs.locator(f'#jobs tr[data-job-id="{job_id}"]')
    expect(row.locator(".badge")).to_have_text("active", timeout=20_000)
    expect(dashboard.locator('strong[data-state="completed"]')).to_have_text("2", timeout=30_000)
    expect(dashboard.locator('strong[data-state="active"]')).to_have_text("0")
    expect(row.locator(".badge")).to_have_text("completed")
    assert dashboard.evaluate("window.__loaded") == "yes" and jobs.evaluate("window.__loaded") == "yes"


def test_bulk_retry_on_the_jobs_list_keeps_the_apis_409_words(stack, owner):
    base = stack["web"].base
    failed = Job.objects.create(owner=owner, name="echo", data=1, state="failed", failed_reason="x")
    done = Job.objects.create(owner=owner, name="echo", data=2, state="completed")
    page = page_for(stack, owner)
    page.goto(base + "/app/jobs/")
    page.check(f'input[name=job][value="{failed.pk}"]')
    page.check(f'input[name=job][value="{done.pk}"]')
    expect(page.locator("[data-selected-count]")).to_have_text("2 selected")
    page.select_option("#bulk-action", "retry")
    page.click("#bulk-apply")
    expect(page.locator(".messages")).to_contain_text("1 job(s) put back to waiting.")
    expect(page.locator(".messages")).to_contain_text(
        f"job {done.pk} is completed; only failed or cancelled jobs can be retried"
    )
    assert wait_until(lambda: state_of(failed.pk) == "completed", 20)


def test_operator_acts_from_the_queues_board(stack, owner, admin_user):
    base = stack["web"].base
    failed = Job.objects.create(owner=owner, name="echo", data={"n": 1}, state="failed", failed_reason="boom")
    running = submit(stack, owner, LONG)
    page = page_for(stack, admin_user, timezone_id="Europe/Berlin")
    page.goto(base + "/admin/queues/")
    jobs_row = page.locator('[data-queue="jobs"]')
    expect(jobs_row.locator('td[data-state="failed"]')).to_have_text("1")
    expect(page.locator('[data-chart="jobs"] canvas')).to_have_count(1)
    # Workers: queues, pool size, and the job running now with how long it has run.
    worker = page.locator("#workers-table tbody tr").first
    # jobs.* in the worker's -Q: every named queue's Celery queue (docs/queues.md)
    expect(worker).to_contain_text(
        "jobs, jobs.flowQueue, jobs.schedQueue, schedules, webhooks", timeout=15_000
    )
    expect(worker.locator("[data-concurrency]")).to_contain_text("2")
    expect(page.locator(f'[data-active-job="{running}"]')).to_contain_text("running", timeout=20_000)

    jobs_row.locator('td[data-state="failed"] a').click()
    page.wait_for_url("**/admin/queues/jobs/?state=failed")
    page.check(f'input[name=job][value="{failed.pk}"]')
    page.select_option("#bulk-action", "retry")
    page.click("#bulk-apply")
    expect(page.locator(".messagelist")).to_contain_text("1 job(s) put back to waiting.")
    assert wait_until(lambda: state_of(failed.pk) == "completed", 20)

    page.goto(f"{base}/admin/queues/jobs/{running}/")
    if state_of(running) != "completed":
        page.click("button[data-action=cancel]")
        expect(page.locator("#job-state")).to_have_text("cancelled", timeout=20_000)
    page.on("dialog", lambda dialog: dialog.accept())
    page.click("button[data-action=delete]")
    expect(page.locator(".messagelist")).to_contain_text(f"Job #{running} deleted.")
    assert not Job.objects.filter(pk=running).exists()


def test_schedule_form_shows_no_error_before_typing_and_errors_do_not_move_the_layout(stack, owner):
    page = page_for(stack, owner, timezone_id="Europe/Berlin")
    with page.expect_response("**/app/schedules/preview/"):
        page.goto(stack["web"].base + "/app/schedules/new/")
    page.wait_for_timeout(300)
    assert page.locator(".field-error li, .errorlist li").count() == 0
    expect(page.locator("#preview-empty")).to_have_text("Fill in the schedule to see when it fires.")
    zone_before = page.locator("#id_time_zone").bounding_box()
    submit_before = page.locator("#schedule-form button[type=submit]").bounding_box()
    page.fill("#id_cron_expression", "0 0 31 2 *")
    expect(page.locator('[data-errors-for="cron_expression"] li')).to_have_text(
        "Day-of-month 31 never occurs in February"
    )
    assert page.locator(".field-error li").count() == 1  # only under the field that was typed in
    assert page.locator("#id_time_zone").bounding_box() == zone_before
    assert page.locator("#schedule-form button[type=submit]").bounding_box() == submit_before

    page.check("input[name=kind][value=every]")
    unit_before = page.locator("#id_every_unit").bounding_box()
    page.fill("#id_every", "0.5")
    expect(page.locator('[data-errors-for="every"] li')).to_have_text("At least 1 second.")
    assert page.locator("#id_every_unit").bounding_box() == unit_before
    page.fill("#id_every", "2")
    expect(page.locator("#preview-next li")).to_have_count(5)
    expect(page.locator('[data-errors-for="every"] li')).to_have_count(0)


def test_no_page_shows_a_raw_iso_time(stack, owner, admin_user):
    """Every page a person opens, after its scripts ran: no ISO 8601 text outside JSON blocks."""
    from tests.webhooks.conftest import Receiver
    from webhooks import services as hooks
    from webhooks.models import Delivery

    base = stack["web"].base
    receiver = Receiver()
    try:
        from django.test import override_settings

        with override_settings(ALLOW_PRIVATE_NETWORK_TARGETS=True):
            hook = hooks.webhook_create(owner=owner, url=receiver.url("/h"), event_type="all")
        Delivery.objects.create(
            webhook=hook,
            event_id="msg_1",
            event_type="completed",
            payload={"id": "1"},
            state="failed",
            finished_at=timezone.now(),
            last_error="HTTP 500",
        )
        cron = services.schedule_create(
            owner=owner,
            name="echo",
            data=None,
            schedule={"cron": "30 2 * * *", "tz": "America/New_York", "startDate": "2030-01-01T00:00:00Z"},
        )
        once = services.schedule_create(
            owner=owner,
            name="echo",
            data=None,
            schedule={"at": (timezone.now() + timedelta(days=3)).isoformat()},
        )
        done = submit(stack, owner, {"name": "echo", "data": {"x": 1}})
        failing = submit(stack, owner, {"name": "http.request", "data": {"url": "ftp://x.test/"}})
        delayed = submit(stack, owner, {"name": "echo", "data": None, "options": {"delay": 3_600_000}})
        services.schedule_trigger(schedule=cron)
        assert wait_until(lambda: state_of(done) == "completed" and state_of(failing) == "failed", 20)
        paths = [
            "/",
            "/app/jobs/",
            "/app/jobs/new/",
            "/app/live/",
            f"/app/jobs/{done}/",
            f"/app/jobs/{failing}/",
            f"/app/jobs/{delayed}/",
            "/app/schedules/",
            f"/app/schedules/{cron.scheduler_id}/",
            f"/app/schedules/{once.scheduler_id}/",
            "/app/schedules/new/",
            f"/app/schedules/{cron.scheduler_id}/edit/",
            "/app/webhooks/",
            f"/app/webhooks/{hook.pk}/",
            "/app/api-keys/",
            "/app/profile/",
        ]
        admin_paths = [
            "/admin/queues/",
            "/admin/queues/jobs/",
            f"/admin/queues/jobs/{failing}/",
            "/admin/jobs/job/",
        ]
        for user, pages in ((owner, paths), (admin_user, admin_paths)):
            page = page_for(stack, user, timezone_id="Asia/Tokyo")
            for path in pages:
                page.goto(base + path)
                page.wait_for_load_state("networkidle")
                text = page.evaluate(
                    """() => { const copy = document.body.cloneNode(true);
                               copy.querySelectorAll('pre, script, input, textarea').forEach(e => e.remove());
                               document.body.appendChild(copy); copy.style.display = 'block';
                               const t = copy.innerText; copy.remove(); return t; }"""
                )
                assert not ISO.findall(text), f"{path} shows {ISO.findall(text)}"
                hovered = page.locator("time[title]").all()
                assert all(t.get_attribute("title").endswith(" UTC") for t in hovered), path
        # The one-time schedule says its instant like every other time, and a cron schedule in another
        # zone says that zone beside the viewer's.
        page = page_for(stack, owner, timezone_id="Asia/Tokyo")
        page.goto(f"{base}/app/schedules/{once.scheduler_id}/")
        expect(page.locator("#schedule-description time")).to_contain_text("JST")
        page.goto(f"{base}/app/schedules/{cron.scheduler_id}/")
        expect(page.locator("ol.next .other-zone").first).to_contain_text("in America/New_York")
    finally:
        receiver.stop()


def test_admin_job_list_fits_1280_px(stack, owner, admin_user):
    for _ in range(3):
        Job.objects.create(
            owner=owner,
            name="demo.progress",
            state="failed",
            attempts_made=3,
            finished_at=timezone.now(),
            failed_reason="x" * 40,
        )
    page = page_for(stack, admin_user, viewport={"width": 1280, "height": 800})
    page.goto(stack["web"].base + "/admin/jobs/job/")
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280
    results = page.locator("#changelist .results")
    assert results.evaluate("el => el.scrollWidth <= el.clientWidth")
    headers = page.locator("#result_list thead th")
    assert [t.strip() for t in headers.all_text_contents()] == [
        "",
        "ID",
        "Name",
        "Owner",
        "State",
        "Schedule",
        "Attempts",
        "Created",
        "Finished",
    ]
    last = headers.last.bounding_box()
    assert last["x"] + last["width"] <= 1280
