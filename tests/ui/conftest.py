"""Fixtures of the page tests: a staff user who is not a superuser, and one running stack (web server,
worker, beat, Chromium) per browser test module."""

import os

import pytest
from django.contrib.auth.models import Permission


@pytest.fixture
def staff(django_user_model):
    """Staff with the jobs and scheduling permissions, not a superuser: sees only their own rows."""
    user = django_user_model.objects.create_user(
        "staff", "staff@example.test", "S3cure-pass-staff", is_staff=True
    )
    user.user_permissions.set(Permission.objects.filter(content_type__app_label__in=["scheduling", "jobs"]))
    return user


@pytest.fixture(scope="module")
def stack(django_db_setup, django_db_blocker):
    """One web server, worker, beat and browser for a module's tests (they only need the test DB):
    ``{"web", "worker", "beat", "browser"}``; every process is stopped at the end, also on failure."""
    from playwright.sync_api import sync_playwright

    from tests.conftest import start_beat, start_worker

    from .browser import WebServer, launch_chromium

    # Playwright's sync API runs an event loop in this thread; the ORM calls of the tests are still sync.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    web = WebServer()
    worker = beat = None
    try:
        worker = start_worker()
        beat = start_beat()
        with sync_playwright() as pw:
            browser = launch_chromium(pw)
            try:
                yield {"web": web, "worker": worker, "beat": beat, "browser": browser}
            finally:
                browser.close()
    finally:
        for proc in (beat, worker):
            if proc is not None:
                proc.stop()
        web.stop()
        os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
