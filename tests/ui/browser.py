"""A real web server (uvicorn subprocess) on the test database and a headless Debian Chromium driven
by Playwright, signed in by copying a Django session cookie (no login page needed)."""

from __future__ import annotations

from django.conf import settings
from django.test import Client

from tests.conftest import WebServer  # noqa: F401 (re-exported for the browser tests)

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]


def launch_chromium(playwright):
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)


def signed_in_context(browser, base: str, user, **options):
    """A browser context carrying a session of ``user`` (made with Django's test client) and the
    ``tz`` cookie of its time zone already set, so ``tz.js`` has no first-visit reload to do."""
    client = Client()
    client.force_login(user)
    context = browser.new_context(**options)
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    context.add_cookies(
        [
            {"name": settings.SESSION_COOKIE_NAME, "value": session, "url": base},
            {"name": "tz", "value": options.get("timezone_id", "UTC"), "url": base},
        ]
    )
    return context
