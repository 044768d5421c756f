"""Contract tests of JobRunner's v0.0.1 API (issue 15): each of its 40 routes (src/routes/*.ts at
a8e38fe and 5a75add) replayed with the request bodies its clients send (job-monitor.html,
client-examples.cjs, the React jobs-client), asserting the status, the original's keys and their
types, and that every answer validates against our served OpenAPI description (/api-docs.json).

The 40 routes: 8 legacy root routes, 9 under /auth, 4 jobs, 4 schedules, 6 webhooks, 2 admin,
4 api-keys, 1 dashboard, 2 API docs. docs/compat.md lists them with what is stricter on purpose.
"""

from __future__ import annotations

import re

import pytest
from django.core import mail
from openapi_core import OpenAPI
from openapi_core.testing import MockRequest, MockResponse
from rest_framework.test import APIClient

from jobs.models import Job
from scheduling.models import Schedule
from tests.conftest import api_for
from webhooks.models import Webhook

PASSWORD = "S3cure-pass-alice"
HOOK = "http://127.0.0.1:3000/webhooks"  # client-examples.cjs' receiver (a private address: allowed here)
# The original's v0.0.1 routes (a8e38fe + 5a75add), each replayed below; `call` refuses any other.
V001_ROUTES = {
    ("GET", "/"),
    ("POST", "/register"),
    ("POST", "/login"),
    ("POST", "/logout"),
    ("POST", "/refresh-token"),
    ("POST", "/submit-job"),
    ("POST", "/request-password-reset"),
    ("POST", "/reset-password"),
    ("POST", "/auth/register"),
    ("POST", "/auth/login"),
    ("POST", "/auth/logout"),
    ("POST", "/auth/refresh-token"),
    ("POST", "/auth/request-password-reset"),
    ("POST", "/auth/reset-password"),
    ("GET", "/auth/protected"),
    ("GET", "/auth/me"),
    ("GET", "/auth/validate-api-key"),
    ("POST", "/jobs/submit"),
    ("GET", "/jobs/{jobId}"),
    ("GET", "/jobs"),
    ("DELETE", "/jobs/{jobId}"),
    ("POST", "/jobs/schedule"),
    ("GET", "/jobs/schedule"),
    ("GET", "/jobs/schedule/{schedulerId}"),
    ("DELETE", "/jobs/schedule/{schedulerId}"),
    ("GET", "/webhooks"),
    ("POST", "/webhooks"),
    ("PUT", "/webhooks/{id}"),
    ("DELETE", "/webhooks/{id}"),
    ("PUT", "/webhooks/url"),
    ("POST", "/webhooks/{id}"),
    ("GET", "/admin"),
    ("GET", "/admin/dashboard"),
    ("GET", "/api-keys"),
    ("POST", "/api-keys"),
    ("PUT", "/api-keys/{id}"),
    ("DELETE", "/api-keys/{id}"),
    ("GET", "/dashboard/stats"),
    ("GET", "/api-docs"),
    ("GET", "/api-docs.json"),
}


@pytest.fixture(scope="module")
def openapi(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        spec = APIClient().get("/api-docs.json").json()
    openapi = OpenAPI.from_dict(spec)
    openapi.served = spec
    return openapi


@pytest.fixture(autouse=True)
def _private_targets(settings):
    settings.ALLOW_PRIVATE_NETWORK_TARGETS = True


def call(client, openapi, method: str, path: str, route: str, body=None, status: int = 200, **extra):
    """Send one request of a v0.0.1 route, check its status, validate the answer against the served
    spec, return its JSON."""
    assert (method.upper(), route) in V001_ROUTES, route
    kwargs = {"format": "json"} if body is not None else {}
    response = (
        getattr(client, method)(path, body, **kwargs, **extra)
        if body is not None
        else getattr(client, method)(path, **extra)
    )
    assert response.status_code == status, (method, path, response.content[:500])
    content_type = response.get("Content-Type", "")
    if content_type.startswith("application/json") and route != "/api-docs.json":
        # Validated on the route's own path (ours answer with and without a trailing slash).
        request = MockRequest(
            "http://testserver", method.lower(), response.wsgi_request.path.rstrip("/") or "/"
        )
        answer = MockResponse(
            response.content, status_code=response.status_code, content_type="application/json"
        )
        openapi.validate_response(request, answer)
    return response.json() if response.content and "json" in response.get("Content-Type", "") else None


def shape(body: dict, types: dict) -> None:
    """Every key of the original's answer is there with the original's type (extra keys are ours)."""
    for key, kind in types.items():
        assert key in body, (key, body)
        assert isinstance(body[key], kind) and not (kind is int and isinstance(body[key], bool)), (key, body)


def mailed_token() -> str:
    """The API token of the last password reset mail (the line after "POST this token")."""
    body = mail.outbox[-1].body
    return re.search(r"/auth/reset-password:\n(\S+)", body).group(1)


def register(client, openapi, path: str, username: str) -> dict:
    body = {"username": username, "password": PASSWORD, "email": f"{username}@example.test", "webhookUrl": ""}
    answer = call(client, openapi, "post", path, path, body, status=201)
    shape(answer, {"message": str, "user": dict, "accessToken": str, "refreshToken": str})
    shape(answer["user"], {"id": int, "username": str, "email": str})
    assert answer["user"]["webhookUrl"] is None
    return answer


def test_legacy_root_routes_as_job_monitor_and_client_examples_send_them(db, openapi):
    anon = APIClient()
    assert call(anon, openapi, "get", "/", "/", HTTP_ACCEPT="*/*") == {"message": "API is running"}
    tokens = register(anon, openapi, "/register", "alice")
    login = call(anon, openapi, "post", "/login", "/login", {"username": "alice", "password": PASSWORD})
    shape(login, {"message": str, "accessToken": str, "refreshToken": str})
    refreshed = call(
        anon, openapi, "post", "/refresh-token", "/refresh-token", {"refreshToken": login["refreshToken"]}
    )
    shape(refreshed, {"accessToken": str})
    user = APIClient()
    user.credentials(HTTP_AUTHORIZATION=f"Bearer {refreshed['accessToken']}")
    # job-monitor.html: {name, data, options} with options possibly undefined (dropped by JSON.stringify)
    submitted = call(
        user, openapi, "post", "/submit-job", "/submit-job", {"name": "echo", "data": {"a": 1}}, status=201
    )
    shape(submitted, {"jobId": str})
    assert Job.objects.get(pk=submitted["jobId"]).data == {"a": 1}
    # the original's logout takes no body
    assert call(user, openapi, "post", "/logout", "/logout") == {"message": "Logout successful"}
    refused = anon.post("/refresh-token", {"refreshToken": tokens["refreshToken"]}, format="json")
    assert refused.status_code == 401
    # password reset: the token is mailed (deliberately not in the answer), then used as resetToken
    answer = call(
        anon,
        openapi,
        "post",
        "/request-password-reset",
        "/request-password-reset",
        {"email": "alice@example.test"},
    )
    shape(answer, {"message": str})
    assert "resetToken" not in answer
    reset = call(
        anon,
        openapi,
        "post",
        "/reset-password",
        "/reset-password",
        {"resetToken": mailed_token(), "newPassword": "An0ther-pass-alice"},
    )
    assert reset == {"message": "Password reset successful"}


def test_auth_routes_as_the_react_client_sends_them(db, openapi, owner):
    anon = APIClient()
    tokens = register(anon, openapi, "/auth/register", "bob")
    login = call(
        anon, openapi, "post", "/auth/login", "/auth/login", {"username": "bob", "password": PASSWORD}
    )
    shape(login, {"message": str, "accessToken": str, "refreshToken": str})
    shape(
        call(
            anon,
            openapi,
            "post",
            "/auth/refresh-token",
            "/auth/refresh-token",
            {"refreshToken": tokens["refreshToken"]},
        ),
        {"accessToken": str},
    )
    user = APIClient()
    user.credentials(HTTP_AUTHORIZATION=f"Bearer {login['accessToken']}")
    me = call(user, openapi, "get", "/auth/me", "/auth/me")
    shape(me, {"id": int, "username": str, "email": str, "createdAt": str, "updatedAt": str})
    protected = call(user, openapi, "get", "/auth/protected", "/auth/protected")
    assert protected == {
        "message": "This is a protected route",
        "user": {"userId": me["id"], "username": "bob"},
    }
    # the React client's API-key login: GET /auth/validate-api-key with X-API-Key
    key = call(
        user,
        openapi,
        "post",
        "/api-keys",
        "/api-keys",
        {"name": "react", "permissions": ["jobs:read", "jobs:write"], "expiresAt": None},
        status=201,
    )
    valid = call(
        anon,
        openapi,
        "get",
        "/auth/validate-api-key",
        "/auth/validate-api-key",
        HTTP_X_API_KEY=key["apiKey"]["key"],
    )
    shape(valid, {"user": dict, "permissions": list})
    assert valid["permissions"] == ["jobs:read", "jobs:write"]
    shape(valid["user"], {"id": int, "username": str, "email": str, "createdAt": str, "updatedAt": str})
    assert call(anon, openapi, "get", "/auth/validate-api-key", "/auth/validate-api-key", status=400)
    assert (
        call(
            anon,
            openapi,
            "get",
            "/auth/validate-api-key",
            "/auth/validate-api-key",
            status=401,
            HTTP_X_API_KEY="jsk_0000000000000000_nope",
        )["message"]
        == "Invalid API key"
    )
    assert call(user, openapi, "post", "/auth/logout", "/auth/logout") == {"message": "Logout successful"}
    shape(
        call(
            anon,
            openapi,
            "post",
            "/auth/request-password-reset",
            "/auth/request-password-reset",
            {"email": "bob@example.test"},
        ),
        {"message": str},
    )
    assert call(
        anon,
        openapi,
        "post",
        "/auth/reset-password",
        "/auth/reset-password",
        {"resetToken": mailed_token(), "newPassword": "An0ther-pass-bob"},
    ) == {"message": "Password reset successful"}


def test_job_routes(db, openapi, owner, other_user):
    api = api_for(owner)
    submitted = call(
        api,
        openapi,
        "post",
        "/jobs/submit",
        "/jobs/submit",
        {"name": "echo", "data": {"message": "Hello World"}},
        status=201,
    )
    shape(submitted, {"jobId": str, "id": str})
    job_id = submitted["jobId"]
    job = call(api, openapi, "get", f"/jobs/{job_id}", "/jobs/{jobId}")
    shape(job, {"id": str, "name": str, "state": str, "progress": int, "timestamp": dict})
    assert job["state"] == "waiting" and job["failedReason"] is None and job["result"] is None
    shape(job["timestamp"], {"created": int})
    assert job["timestamp"]["started"] is None and job["timestamp"]["finished"] is None
    # the React client's list parameters (search, sortBy, ... are ignored), and BullMQ's paused/stuck
    listed = call(
        api,
        openapi,
        "get",
        "/jobs",
        "/jobs",
        {"page": 1, "limit": 10, "sortBy": "createdAt", "sortDirection": "desc", "search": ""},
    )
    shape(listed, {"jobs": list, "pagination": dict})
    assert listed["pagination"] == {"total": 1, "page": 1, "limit": 10, "pages": 1}
    shape(listed["jobs"][0], {"id": str, "name": str, "state": str, "progress": int, "timestamp": dict})
    for status in ("paused", "stuck", "waiting"):
        page = call(api, openapi, "get", "/jobs", "/jobs", {"status": status})
        assert page["pagination"]["total"] == (1 if status == "waiting" else 0)
    assert call(api_for(other_user), openapi, "get", f"/jobs/{job_id}", "/jobs/{jobId}", status=404)
    # a waiting job can be deleted (BullMQ's rule: anything but active)
    deleted = call(api, openapi, "delete", f"/jobs/{job_id}", "/jobs/{jobId}")
    assert deleted == {"message": "Job deleted successfully", "id": job_id}


def test_schedule_routes_as_the_react_scheduler_uses_them(db, openapi, owner):
    api = api_for(owner)
    body = {
        "name": "echo",
        "data": {"key1": "value1"},
        "schedule": {"cron": "0 0 * * *", "tz": "America/New_York", "endDate": "2031-12-31T00:00:00.000Z"},
        "options": {"removeOnComplete": {"count": 3}, "removeOnFail": {"count": 5}},
    }
    created = call(api, openapi, "post", "/jobs/schedule", "/jobs/schedule", body, status=201)
    shape(created, {"schedulerId": str})
    listed = call(
        api,
        openapi,
        "get",
        "/jobs/schedule",
        "/jobs/schedule",
        {"limit": 10, "offset": 0, "sortBy": "createdAt", "sortDirection": "desc"},
    )
    item = listed["scheduledJobs"][0]
    # BullMQ's JobSchedulerJson types: the React page does new Date(job.next) and edits by job.key
    shape(
        item,
        {
            "key": str,
            "name": str,
            "next": int,
            "iterationCount": int,
            "endDate": int,
            "tz": str,
            "pattern": str,
            "template": dict,
        },
    )
    row = Schedule.objects.get()
    assert item["next"] == int(row.next_fire_at.timestamp() * 1000)
    assert item["endDate"] == 1956441600000  # 2031-12-31T00:00:00Z
    assert item["key"] == created["schedulerId"] and item["template"]["data"] == {"key1": "value1"}
    assert item["upcoming"][0] == row.next_fire_at.isoformat().replace("+00:00", "Z")
    one = call(api, openapi, "get", f"/jobs/schedule/{item['key']}", "/jobs/schedule/{schedulerId}")
    shape(one, {"key": str, "name": str, "next": int, "iterationCount": int, "pattern": str})
    assert call(api, openapi, "delete", f"/jobs/schedule/{item['key']}", "/jobs/schedule/{schedulerId}") == {
        "message": "Scheduled job removed successfully"
    }


def test_webhook_routes_as_job_monitor_and_client_examples_send_them(db, openapi, owner):
    api = api_for(owner)
    created = call(
        api,
        openapi,
        "post",
        "/webhooks",
        "/webhooks",
        {"url": f"{HOOK}/completed", "eventType": "completed", "description": None},
        status=201,
    )
    hook = created["webhook"]
    shape(hook, {"id": int, "url": str, "eventType": str, "active": bool, "userId": int})
    assert hook["description"] is None
    listed = call(api, openapi, "get", "/webhooks", "/webhooks")
    assert [w["id"] for w in listed["webhooks"]] == [hook["id"]]  # job-monitor compares ids with ===
    updated = call(
        api,
        openapi,
        "put",
        f"/webhooks/{hook['id']}",
        "/webhooks/{id}",
        {"url": f"{HOOK}/all", "eventType": "all", "description": "", "active": False},
    )
    assert (updated["webhook"]["eventType"], updated["webhook"]["active"]) == ("all", False)
    legacy = call(api, openapi, "put", "/webhooks/url", "/webhooks/url", {"webhookUrl": f"{HOOK}/legacy"})
    shape(legacy, {"message": str, "webhookUrl": str})
    assert Webhook.objects.get(legacy=True).url == f"{HOOK}/legacy"
    # the original's sample receiver: 200, no body
    assert (
        call(
            api,
            openapi,
            "post",
            f"/webhooks/{hook['id']}",
            "/webhooks/{id}",
            {"id": "1", "jobname": "echo", "result": "ok"},
        )
        is None
    )
    assert call(api, openapi, "delete", f"/webhooks/{hook['id']}", "/webhooks/{id}") == {
        "message": "Webhook deleted successfully"
    }


def test_api_key_routes(db, openapi, owner, other_user):
    api = api_for(owner)
    created = call(
        api,
        openapi,
        "post",
        "/api-keys",
        "/api-keys",
        {"name": "ci", "permissions": ["jobs:read"], "expiresAt": "2031-01-01T00:00:00Z"},
        status=201,
    )
    shape(created, {"message": str, "apiKey": dict})
    shape(
        created["apiKey"],
        {
            "id": int,
            "userId": int,
            "name": str,
            "prefix": str,
            "permissions": list,
            "createdAt": str,
            "expiresAt": str,
            "isActive": bool,
            "key": str,
        },
    )
    key_id = created["apiKey"]["id"]
    listed = call(api, openapi, "get", "/api-keys", "/api-keys")
    shape(listed, {"message": str, "apiKeys": list})
    assert "key" not in listed["apiKeys"][0] and listed["apiKeys"][0]["lastUsed"] is None
    updated = call(
        api,
        openapi,
        "put",
        f"/api-keys/{key_id}",
        "/api-keys/{id}",
        {"name": "ci-2", "permissions": ["jobs:read", "jobs:write"], "expiresAt": None},
    )
    assert (updated["apiKey"]["name"], updated["apiKey"]["permissions"], updated["apiKey"]["expiresAt"]) == (
        "ci-2",
        ["jobs:read", "jobs:write"],
        None,
    )
    assert call(
        api_for(other_user),
        openapi,
        "put",
        f"/api-keys/{key_id}",
        "/api-keys/{id}",
        {"name": "x"},
        status=404,
    )
    assert call(api, openapi, "delete", f"/api-keys/{key_id}", "/api-keys/{id}") == {
        "message": "API key revoked successfully"
    }
    assert call(api, openapi, "get", "/api-keys", "/api-keys")["apiKeys"][0]["isActive"] is False
    reactivated = call(api, openapi, "put", f"/api-keys/{key_id}", "/api-keys/{id}", {"isActive": True})
    assert reactivated["apiKey"]["isActive"] is True


def test_dashboard_admin_and_docs_routes(db, openapi, owner):
    api = api_for(owner)
    Job.objects.create(owner=owner, name="echo", state="completed")
    Job.objects.create(owner=owner, name="echo", state="failed", failed_reason="boom")
    stats = call(api, openapi, "get", "/dashboard/stats", "/dashboard/stats")
    shape(stats, {"jobStats": dict, "recentJobs": list, "schedulerStats": dict, "webhookStats": dict})
    for key in ("total", "active", "delayed", "completed", "failed", "paused", "waiting-children", "waiting"):
        assert isinstance(stats["jobStats"][key], int), key
    assert (stats["jobStats"]["total"], stats["jobStats"]["completionRate"]) == (2, 50.0)
    shape(stats["recentJobs"][0], {"id": str, "name": str, "status": str, "createdAt": str})
    assert [j["status"] for j in stats["recentJobs"]] == ["failed", "completed"]
    shape(stats["schedulerStats"], {"activeSchedules": int, "totalSchedules": int})
    shape(
        stats["webhookStats"],
        {
            "totalWebhooks": int,
            "activeWebhooks": int,
            "deliveryRate": float,
            "totalDeliveries": int,
            "failedDeliveries": int,
        },
    )
    assert call(api, openapi, "get", "/admin/dashboard", "/admin/dashboard")["message"] == "Admin dashboard"
    # Bull Board's /admin: here Django's admin, for staff (a redirect to its login for anyone else)
    response = APIClient().get("/admin")
    assert (response.status_code, response["Location"]) == (301, "/admin/")
    assert APIClient().get("/admin/").status_code == 302
    assert APIClient().get("/api-docs").status_code == 200
    assert APIClient().get("/api-docs.json").json()["openapi"].startswith("3.")


def test_v001_has_40_routes_and_the_spec_documents_each_api_one(openapi):
    """The list above is the original's route files' (COMPAT.md counts 40); every JSON route is in our
    served description under the original's path."""
    assert len(V001_ROUTES) == 40
    paths = openapi.served["paths"]
    pages = {("GET", "/admin"), ("GET", "/api-docs"), ("GET", "/api-docs.json")}
    for method, route in sorted(V001_ROUTES - pages):
        assert method.lower() in paths.get(route, {}), (method, route)


def test_another_user_sees_nothing_of_yours_on_the_new_routes(db, owner, other_user):
    """/dashboard/stats counts the caller's rows only; /api-keys/{id} of another user is a 404."""
    mine = api_for(owner)
    theirs = api_for(other_user)
    Job.objects.create(owner=owner, name="echo", state="completed")
    Schedule.objects.create(owner=owner, name="echo", kind="every", every_ms=60000, state="active")
    Webhook.objects.create(owner=owner, url="http://127.0.0.1:9/x", event_type="completed", secret="s")
    key_id = mine.post("/api-keys", {"name": "mine"}, format="json").json()["apiKey"]["id"]
    stats = theirs.get("/dashboard/stats").json()
    assert stats["jobStats"]["total"] == 0 and stats["recentJobs"] == []
    assert (stats["schedulerStats"]["totalSchedules"], stats["webhookStats"]["totalWebhooks"]) == (0, 0)
    assert mine.get("/dashboard/stats").json()["jobStats"]["total"] == 1
    for method in ("get", "put", "delete"):
        res = getattr(theirs, method)(
            f"/api-keys/{key_id}", *([{"isActive": False}] if method == "put" else []), format="json"
        )
        assert res.status_code == 404, method
    assert theirs.get("/api-keys").json()["apiKeys"] == []
    assert mine.get(f"/api-keys/{key_id}").json()["apiKey"]["isActive"] is True


def test_root_is_json_for_api_clients_and_the_page_for_browsers(db, owner):
    from django.test import Client

    assert APIClient().get("/", HTTP_ACCEPT="*/*").json() == {"message": "API is running"}
    assert APIClient().get("/", HTTP_ACCEPT="application/json").json() == {"message": "API is running"}
    browser = Client()
    assert browser.get("/", HTTP_ACCEPT="text/html,*/*;q=0.8").status_code == 302  # to the login page
    browser.force_login(owner)
    # a signed-in page refreshing itself with fetch() (Accept */*) gets the page, not the API's answer
    page = browser.get("/", HTTP_ACCEPT="*/*", HTTP_X_REQUESTED_WITH="refresh")
    assert page.status_code == 200 and page["Content-Type"].startswith("text/html")
