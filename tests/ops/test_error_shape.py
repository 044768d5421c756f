"""One error shape, ``{"message", "errors"}``, for every failure of an API path."""

from __future__ import annotations

import json
import logging
import re

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from config.logs import ContextFilter


def _post_raw(api, path: str, body: bytes):
    return api.generic("POST", path, body, content_type="application/json")


def test_malformed_json_is_400_with_the_parse_error(api):
    response = _post_raw(api, "/jobs/submit", b"{not json")
    assert response.status_code == 400
    assert response.json() == {
        "message": "JSON parse error - Expecting property name enclosed in double quotes: "
        "line 1 column 2 (char 1)",
        "errors": {},
    }


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"name": "echo", "data": 1e999}', "JSON parse error - number 1e999 is out of range"),
        (b'{"name": "echo", "data": NaN}', "JSON parse error - NaN is not valid JSON"),
        (
            b'{"name": "echo", "data": {"k": "a\\u0000b"}}',
            "JSON parse error - NUL characters (\\u0000) are not accepted",
        ),
        (
            b'{"name": "echo", "data": {"\\u0000": 1}}',
            "JSON parse error - NUL characters (\\u0000) are not accepted",
        ),
        (
            b"[" * 100_000,
            "JSON parse error - maximum recursion depth exceeded "
            "while decoding a JSON array from a unicode string",
        ),
        (b'{"name": "\xff"}', "JSON parse error - the body is not valid utf-8"),
    ],
)
def test_bodies_the_database_cannot_store_are_400(api, body, message):
    response = _post_raw(api, "/jobs/submit", body)
    assert (response.status_code, response.json()) == (400, {"message": message, "errors": {}})


def test_huge_integer_in_data_is_stored_or_refused_never_500(api):
    response = _post_raw(api, "/jobs/submit", b'{"name": "echo", "data": ' + b"9" * 5000 + b"}")
    assert response.status_code == 400
    assert response.json()["message"].startswith("JSON parse error - Exceeds the limit (4300 digits)")


def test_one_time_schedule_with_empty_instant_is_400(api):
    response = api.post("/jobs/schedule", {"name": "echo", "schedule": {"at": ""}}, format="json")
    assert response.status_code == 400
    assert response.json() == {
        "message": "schedule.at: must be an ISO 8601 date-time with an offset or Z",
        "errors": {"schedule.at": ["schedule.at: must be an ISO 8601 date-time with an offset or Z"]},
    }


def test_nul_in_path_or_query_is_400(api):
    for path in ("/jobs/schedule/a%00b", "/jobs?name=%00"):
        response = api.get(path)
        assert (response.status_code, response.json()) == (
            400,
            {"message": "NUL characters are not accepted in the path or query", "errors": {}},
        ), path


@pytest.mark.parametrize("debug", [False, True])
def test_unknown_api_path_is_json_404_even_with_debug_pages_on(api, settings, debug):
    settings.DEBUG = debug
    response = api.get("/jobs/1/nothing/here", HTTP_ACCEPT="text/html")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"message": "Not found", "errors": {}}


def test_wrong_method_is_json_405_with_allow(api):
    response = api.get("/jobs/submit")
    assert response.status_code == 405
    assert response.json() == {"message": 'Method "GET" not allowed.', "errors": {}}
    assert response["Allow"] == "POST, OPTIONS"


@pytest.mark.urls("tests.ops.boom_urls")
def test_throttled_request_is_429_with_retry_after(db):
    cache.clear()
    client = APIClient()
    assert [client.get("/jobs/throttled").status_code for _ in range(2)] == [200, 200]
    response = client.get("/jobs/throttled")
    assert response.status_code == 429
    # DRF rounds the seconds left in the window up; the test may take a moment, hence two values.
    assert response["Retry-After"] in ("3600", "3599")
    assert response.json() == {
        "message": f"Request was throttled. Expected available in {response['Retry-After']} seconds.",
        "errors": {},
    }


@pytest.mark.urls("tests.ops.boom_urls")
@pytest.mark.parametrize("path", ["/jobs/boom", "/jobs/plain-boom"])
def test_unexpected_exception_is_logged_with_request_id_and_answered_500_json(db, caplog, settings, path):
    settings.DEBUG = True  # even with debug pages on, an API client never sees a traceback
    with caplog.at_level(logging.ERROR):
        response = APIClient().get(path, HTTP_X_REQUEST_ID="req-42")
    assert response.status_code == 500
    assert response["X-Request-ID"] == "req-42"
    assert response.json() == {"message": "Internal server error (request id req-42)", "errors": {}}
    assert "secret detail" not in response.content.decode()
    logged = [r for r in caplog.records if r.name == "config.exceptions"]
    assert [(r.getMessage(), r.request_id, type(r.exc_info[1])) for r in logged] == [
        (f"unhandled {'API ' if path == '/jobs/boom' else ''}error on GET {path}", "req-42", RuntimeError)
    ]


@pytest.mark.urls("tests.ops.boom_urls")
@pytest.mark.parametrize("view", ["db-boom", "plain-db-boom"])
@pytest.mark.parametrize("kind", ["pool-timeout", "locked"])
def test_busy_database_is_503_with_retry_after(db, view, kind):
    response = APIClient().get(f"/jobs/{view}/{kind}")
    assert (response.status_code, response["Retry-After"], response.json()) == (
        503,
        "1",
        {"message": "The database is busy or unreachable; retry shortly", "errors": {}},
    )


@pytest.mark.urls("tests.ops.boom_urls")
@pytest.mark.parametrize("debug", [False, True])
def test_busy_database_outside_a_view_is_503_too(db, settings, debug):
    settings.DEBUG = debug
    settings.MIDDLEWARE = [*settings.MIDDLEWARE, "tests.ops.boom_urls.DatabaseBoomMiddleware"]
    client = APIClient(raise_request_exception=False)
    response = client.get("/jobs/middleware-db-boom")
    assert (response.status_code, response["Retry-After"]) == (503, "1")


@pytest.mark.urls("tests.ops.boom_urls")
def test_other_database_errors_stay_500(db):
    response = APIClient().get("/jobs/db-boom/no-table")
    assert response.status_code == 500


def test_request_id_is_made_when_missing_or_unsafe(api):
    assert re.fullmatch(r"[0-9a-f]{32}", api.get("/jobs")["X-Request-ID"])
    assert re.fullmatch(r"[0-9a-f]{32}", api.get("/jobs", HTTP_X_REQUEST_ID="bad id\nx")["X-Request-ID"])
    assert api.get("/jobs", HTTP_X_REQUEST_ID="abc-123")["X-Request-ID"] == "abc-123"


def test_json_error_body_is_parseable_for_every_4xx_status(api):
    for response in (api.get("/jobs/999999"), api.get("/jobs?status=nope"), APIClient().get("/jobs")):
        assert set(json.loads(response.content)) == {"message", "errors"}


def test_django_request_log_of_a_4xx_carries_the_request_id(api, caplog):
    with caplog.at_level(logging.WARNING, logger="django.request"):
        api.get("/jobs/999999", HTTP_X_REQUEST_ID="req-404")
    filter_ = ContextFilter()
    records = [r for r in caplog.records if r.name == "django.request"]
    assert [(r.getMessage(), filter_.filter(r), r.request_id) for r in records] == [
        ("Not Found: /jobs/999999", True, "req-404")
    ]


@pytest.mark.parametrize("job_id", ["²", "٣", "99999999999999999999", "1.0", "-1"])
def test_odd_job_ids_are_404_not_500(api, job_id):
    response = api.get(f"/jobs/{job_id}")
    assert (response.status_code, response.json()) == (404, {"message": "Not found.", "errors": {}})


def test_lone_surrogate_in_json_string_is_400(api):
    response = _post_raw(api, "/jobs/submit", b'{"name": "echo", "data": {"k": "\\ud800"}}')
    assert (response.status_code, response.json()) == (
        400,
        {
            "message": "JSON parse error - strings must be valid Unicode (a lone surrogate \\ud800..\\udfff)",
            "errors": {},
        },
    )
