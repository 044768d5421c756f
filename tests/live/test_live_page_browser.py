"""The live page in a real browser: a job submitted through the API streams into the open page."""

import pytest

from tests.live.conftest import api_call, login_browser

pytestmark = [pytest.mark.e2e, pytest.mark.browser, pytest.mark.django_db(transaction=True)]

STEPS = 5
TEXT = "".join(f"step {i} of {STEPS} done\n" for i in range(1, STEPS + 1))


def test_live_page_shows_progress_and_streamed_text_without_reload(owner, worker, web_server, browser_page):
    page = browser_page
    login_browser(page, web_server.base, owner)
    page.goto(web_server.base + "/app/live/")
    page.wait_for_selector("[data-live-status]:text('live')", timeout=15000)
    page.evaluate("window.__loaded = 'yes'")  # gone if the page were reloaded

    status, body = api_call(
        web_server.base,
        "POST",
        "/jobs/submit",
        owner,
        {"name": "demo.progress", "data": {"steps": STEPS, "delayMs": 150}},
    )
    assert status == 201
    row = page.locator(f'.live-job[data-job-id="{body["jobId"]}"]')
    row.locator('[data-field="state"]:text("completed")').wait_for(timeout=30000)

    assert row.locator('[data-field="percent"]').inner_text() == "100%"
    assert row.locator('[data-field="bar"]').evaluate("el => el.style.width") == "100%"
    assert row.locator(".progress").get_attribute("aria-valuenow") == "100"
    panel = page.locator("[data-live-panel]")
    assert panel.locator('[data-field="title"]').inner_text() == f"demo.progress #{body['jobId']}"
    assert panel.locator('[data-field="output"]').text_content() == TEXT
    assert panel.locator('[data-field="outcome"]').inner_text() == 'Result: {"steps":5}'
    assert page.evaluate("window.__loaded") == "yes"

    # The job detail page renders the finished job and follows it with the same script.
    row.locator("a.live-name").click()
    page.wait_for_url(f"**/app/jobs/{body['jobId']}/")
    page.wait_for_selector("[data-live-status]:text('live')", timeout=15000)
    assert page.locator('[data-field="state"]').inner_text() == "completed"
    assert page.locator('[data-field="output"]').text_content() == TEXT
    assert page.locator('[data-field="result"]').text_content() == '{\n  "steps": 5\n}'
    finished = page.locator("#job-facts dt:text('Finished') + dd time")
    assert finished.get_attribute("title").endswith(" UTC") and not finished.inner_text().endswith("Z")
