"""Screenshots of the main pages for the README: ``docs/screenshots/*.png``.

    REDIS_URL=redis://127.0.0.1:6379/6 .venv/bin/python scripts/screenshots.py

Starts from a fresh SQLite file (``var/screenshots.sqlite3``), seeds a demo user with schedules and
jobs (run by a real worker and beat), starts the web server, and photographs the pages with
Debian's Chromium through Playwright (desktop 1280 px wide, plus the dashboard at phone width).
Needs a Redis at ``REDIS_URL`` (its database is flushed: use a spare one). Two webhook receivers run
in this process on loopback (allowed for the run by ``ALLOW_PRIVATE_NETWORK_TARGETS``): one answers
200, one 503, so the delivery log shows successes, retries and failures.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
OUT = BASE_DIR / "docs" / "screenshots"
DB_FILE = BASE_DIR / "var" / "screenshots.sqlite3"

sys.path.insert(0, str(BASE_DIR))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ["TESTING"] = "1"
os.environ["DATABASE_URL"] = f"sqlite:///{DB_FILE}"
# Playwright's sync API keeps an event loop in this thread; the script's ORM calls are plain sync code.
os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
# The webhook receivers below run on loopback; retries are made quick so the log fills in seconds.
os.environ["ALLOW_PRIVATE_NETWORK_TARGETS"] = "1"
os.environ["WEBHOOK_MAX_ATTEMPTS"] = "3"
os.environ["WEBHOOK_BACKOFF_SCHEDULE_S"] = "0.5"
os.environ["WEBHOOK_BACKOFF_JITTER"] = "0"


def seed_webhooks(demo, ok_url: str, failing_url: str):
    """Two webhooks of the demo user, created before the jobs so their events are delivered, and
    an API key that has been used; returns the webhook whose receiver fails (its log has retries)."""
    from datetime import timedelta

    from django.utils import timezone

    from accounts.services import api_key_authenticate, api_key_create
    from webhooks import services as hooks

    hooks.webhook_create(
        owner=demo, url=ok_url, event_type="all", description="Every job event to the build dashboard"
    )
    notifier = hooks.webhook_create(
        owner=demo, url=failing_url, event_type="completed", description="Chat notifier"
    )
    _, raw = api_key_create(owner=demo, name="CI pipeline", expires_at=timezone.now() + timedelta(days=90))
    api_key_authenticate(raw)
    return notifier


def seed(hook_urls: tuple[str, str]):
    """A demo user with webhooks, an API key, three schedules and a few real runs, plus an admin."""
    from django.contrib.auth import get_user_model
    from django.utils import timezone

    from jobs.models import Job, JobState
    from jobs.submission import job_submit
    from scheduling import services

    users = get_user_model().objects
    demo = users.create_user("ada", "ada@example.test", "S3cure-pass-ada")
    admin = users.create_superuser("admin", "admin@example.test", "S3cure-pass-admin")
    failing_hook = seed_webhooks(demo, *hook_urls)
    services.schedule_create(
        owner=demo,
        name="demo.progress",
        data={"steps": 3, "delayMs": 100},
        schedule={"cron": "30 2 * * *", "tz": "Europe/Berlin"},
        scheduler_id="nightly-report",
    )
    services.schedule_create(
        owner=demo,
        name="echo",
        data={"ping": True},
        schedule={"cron": "*/15 9-17 * * 1-5", "tz": "America/New_York"},
    )
    quick = services.schedule_create(
        owner=demo,
        name="echo",
        data={"tick": "every 2 s"},
        schedule={"repeat": {"every": 2000, "limit": 3}},
        scheduler_id="heartbeat",
    )
    for steps in (2, 4, 3):
        job_submit(owner=demo, name="demo.progress", data={"steps": steps, "delayMs": 150})
    job_submit(owner=demo, name="echo", data={"hello": "world"})
    # A real failure with three attempts, a stack trace and log lines (the receiver answers 503).
    failed, _ = job_submit(
        owner=demo,
        name="http.request",
        data={"url": hook_urls[1].replace("/notify", "/health"), "method": "POST", "expectedStatuses": [200]},
        options={"attempts": 3},
    )
    # A delayed job: its page offers "Run now" (promote).
    job_submit(owner=demo, name="echo", data={"later": True}, options={"delay": 3_600_000})
    # A failed run for the "recent failures" panel (no built-in handler fails on purpose).
    Job.objects.create(
        owner=demo,
        name="echo",
        state=JobState.FAILED,
        attempts_made=3,
        finished_at=timezone.now(),
        failed_reason="ConnectionError: upstream timed out after 10 s",
    )
    return demo, admin, quick, failing_hook, failed


def main() -> None:
    import django

    DB_FILE.unlink(missing_ok=True)
    django.setup()
    import redis
    from django.conf import settings
    from django.core.management import call_command
    from playwright.sync_api import expect, sync_playwright

    from jobs.models import Job
    from tests.conftest import start_beat, start_worker, wait_until
    from tests.ui.browser import WebServer, launch_chromium, signed_in_context
    from tests.webhooks.conftest import Receiver
    from webhooks.models import Delivery

    redis.Redis.from_url(settings.REDIS_URL).flushdb()
    call_command("migrate", verbosity=0)
    OUT.mkdir(parents=True, exist_ok=True)
    worker = start_worker(name="shots-worker")
    beat = start_beat(name="shots-beat")
    web = WebServer(database_url=os.environ["DATABASE_URL"])
    ok, failing = Receiver(), Receiver(default=503)
    ok.answer = b'{"received": true}'
    failing.answer = b"upstream chat service unavailable"
    try:
        demo, admin, quick, failing_hook, failed = seed((ok.url("/hooks/jobs"), failing.url("/notify")))
        wait_until(lambda: Job.objects.filter(schedule=quick, state="completed").count() == 3, 40, 0.5)
        wait_until(lambda: not Job.objects.filter(state__in=["waiting", "active"]).exists(), 30, 0.5)
        wait_until(lambda: Job.objects.get(pk=failed.pk).state == "failed", 30, 0.5)
        wait_until(lambda: not Delivery.objects.filter(state__in=["pending", "sending"]).exists(), 30, 0.5)
        with sync_playwright() as pw:
            browser = launch_chromium(pw)
            desk = signed_in_context(
                browser, web.base, demo, viewport={"width": 1280, "height": 800}, timezone_id="Europe/Berlin"
            )
            page = desk.new_page()

            def shot(path: str, name: str, full: bool = True, prepare=None) -> None:
                page.goto(web.base + path)
                if page.locator("[data-live-status]").count():
                    page.wait_for_selector("[data-live-status]:text('live')", timeout=15_000)
                if prepare:
                    prepare(page)
                page.screenshot(path=str(OUT / f"{name}.png"), full_page=full)
                print(f"docs/screenshots/{name}.png  <- {path}")

            shot("/", "dashboard")
            shot("/app/jobs/", "jobs-list")
            shot(f"/app/jobs/{failed.pk}/", "job-failed")
            shot("/app/jobs/new/", "job-new")

            def fill_preview(p):
                p.select_option("#id_name", "demo.progress")
                p.fill("#id_cron_expression", "30 2 * * *")
                p.select_option("#id_time_zone", "Europe/Berlin")
                expect(p.locator("#preview-next time")).to_have_count(5)

            shot(
                "/app/schedules/new/?from=2028-03-24T12:00:00Z", "schedule-new-preview", prepare=fill_preview
            )
            shot("/app/schedules/", "schedules-list")
            shot("/app/schedules/heartbeat/", "schedule-detail")
            shot("/app/webhooks/", "webhooks")

            def open_attempts(p):
                for details in p.locator(".delivery details").all()[:1]:
                    details.evaluate("el => el.open = true")

            shot(f"/app/webhooks/{failing_hook.pk}/", "webhook-deliveries", prepare=open_attempts)

            def create_key(p):
                p.fill("#id_name", "Nightly export")
                p.click("#api-key-form button[type=submit]")
                p.wait_for_selector("#api-key-secret")

            shot("/app/api-keys/", "api-keys", prepare=create_key)

            phone = signed_in_context(
                browser,
                web.base,
                demo,
                viewport={"width": 390, "height": 844},
                timezone_id="Europe/Berlin",
                is_mobile=True,
                device_scale_factor=1,
            )
            page = phone.new_page()
            shot("/", "dashboard-phone")
            shot(f"/app/webhooks/{failing_hook.pk}/", "webhook-deliveries-phone", full=False)

            page = signed_in_context(
                browser, web.base, admin, viewport={"width": 1280, "height": 800}, timezone_id="Europe/Berlin"
            ).new_page()
            shot("/admin/queues/", "admin-queues", prepare=lambda p: p.wait_for_selector("#workers table"))
            shot("/admin/queues/jobs/?state=completed", "admin-queue-jobs")
            shot("/admin/jobs/job/", "admin-jobs")
            shot("/admin/scheduling/schedule/", "admin-schedules")
            shot("/admin/webhooks/delivery/", "admin-deliveries")
            try:
                shot(
                    "/api-docs/",
                    "swagger",
                    full=False,
                    prepare=lambda p: p.wait_for_selector(".swagger-ui .info", timeout=5000),
                )
            except Exception as exc:  # noqa: BLE001 - Swagger UI comes with the docs issue
                print(f"no Swagger UI at /api-docs/ ({type(exc).__name__}); skipped")
            browser.close()
    finally:
        ok.stop()
        failing.stop()
        web.stop()
        beat.stop()
        worker.stop()
        time.sleep(0.2)


if __name__ == "__main__":
    main()
