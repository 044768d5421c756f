"""A page opened from file:// (Origin ``null``, as job-monitor.html is) calls the API cross-origin in a
real browser: sign in at the legacy root route, submit a job, read it back with an API key (pre-flighted
custom headers), against a real uvicorn server."""

from __future__ import annotations

import json

import pytest

from accounts import services as account_services
from jobs.models import Job

PAGE = """<!doctype html><meta charset="utf-8"><title>loading</title><body><script>
const [base, apiKey] = decodeURIComponent(location.hash.slice(1)).split(" ");
(async () => {
  const out = {};
  let r = await fetch(base + "/login", {method: "POST", headers: {"Content-Type": "application/json"},
    body: JSON.stringify({username: "owner", password: "S3cure-pass-owner"})});
  out.login = r.status; const tokens = await r.json();
  r = await fetch(base + "/submit-job", {method: "POST", headers: {"Content-Type": "application/json",
    "Authorization": "Bearer " + tokens.accessToken},
    body: JSON.stringify({name: "echo", data: {from: "file"}})});
  out.submit = r.status; out.jobId = (await r.json()).jobId;
  r = await fetch(base + "/jobs/" + out.jobId, {headers: {"X-API-Key": apiKey}});
  out.read = r.status; out.name = (await r.json()).name;
  r = await fetch(base + "/webhooks", {headers: {"Authorization": "Bearer " + tokens.accessToken}});
  out.webhooks = r.status;
  document.body.dataset.result = JSON.stringify(out); document.title = "done";
})().catch(e => {
  document.body.dataset.result = JSON.stringify({error: String(e)}); document.title = "done";
});
</script>"""


@pytest.mark.browser
def test_page_from_file_url_calls_the_api_cross_origin(web_server, browser_page, owner, tmp_path):
    _, api_key = account_services.api_key_create(owner=owner, name="page")
    page_file = tmp_path / "monitor.html"
    page_file.write_text(PAGE)
    allowed = []
    browser_page.on(
        "response", lambda r: allowed.append((r.request.method, r.headers.get("access-control-allow-origin")))
    )
    browser_page.goto(f"{page_file.as_uri()}#{web_server.base} {api_key}")
    browser_page.wait_for_function("document.title === 'done'", timeout=30_000)
    result = json.loads(browser_page.locator("body").get_attribute("data-result"))
    job = Job.objects.get(owner=owner)
    assert result == {
        "login": 200,
        "submit": 201,
        "jobId": str(job.pk),
        "read": 200,
        "name": "echo",
        "webhooks": 200,
    }
    assert job.data == {"from": "file"}
    # every API answer carried the CORS header the browser needed (the calls with Authorization or
    # X-API-Key could only be sent after their pre-flight passed; Playwright does not report those)
    assert allowed == [("GET", None), ("POST", "*"), ("POST", "*"), ("GET", "*"), ("GET", "*")]
