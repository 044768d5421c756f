"""The OpenAPI document and the server agree (issue 13, item 7): what the document calls invalid is a
400, what it calls valid in a parameter is served. ``make fuzz`` holds the whole document to this;
these are the cases it found."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

SCHEDULE = {"name": "echo", "data": {}, "schedule": {"repeat": {"every": 60000}}}


@pytest.fixture
def spec(db):
    return APIClient().get("/api-docs.json").json()


def _parameter(spec, path, method, name):
    return next(p for p in spec["paths"][path][method]["parameters"] if p["name"] == name)


def test_page_and_limit_bounds_are_documented_and_enforced(api, spec):
    page, limit = _parameter(spec, "/jobs", "get", "page"), _parameter(spec, "/jobs", "get", "limit")
    assert page["schema"] == {"type": "integer", "minimum": 1, "maximum": 10**9}
    assert limit["schema"] == {"type": "integer", "minimum": 1, "maximum": 100}
    assert page["explode"] is False and limit["explode"] is False  # a list arrives as "a,b": a 400
    for query in ("page=0", "page=", "limit=", "limit=101", "page=1,2"):
        assert api.get(f"/jobs?{query}").status_code == 400, query
    assert api.get("/jobs?page=1&limit=100").status_code == 200
    assert api.get("/jobs?status=").status_code == 200  # documented: empty is every state


def test_string_parameters_document_that_nul_is_refused(api, spec):
    assert _parameter(spec, "/jobs", "get", "name")["schema"]["pattern"] == "^[^\u0000]*$"
    assert _parameter(spec, "/jobs/{jobId}", "get", "jobId")["schema"]["pattern"] == "^[^/\u0000]+$"
    assert api.get("/jobs?name=a%00b").status_code == 400


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({**SCHEDULE, "schedulerId": 0}, "schedulerId"),
        ({**SCHEDULE, "name": 12}, "name"),
        ({**SCHEDULE, "schedule": {"repeat": {"every": 60000}, "overlap": {}}}, "schedule.overlap"),
        ({**SCHEDULE, "schedule": {"repeat": {"every": 60000}, "startDate": ""}}, "schedule.startDate"),
        ({**SCHEDULE, "schedule": {"repeat": {"every": 60000, "limit": 3}, "limit": 0}}, "schedule.limit"),
    ],
)
def test_schema_violating_bodies_are_400_not_coerced(api, body, field):
    response = api.post("/jobs/schedule", body, format="json")
    assert response.status_code == 400, response.json()
    assert list(response.json()["errors"]) == [field]


def test_nulls_the_document_allows_mean_not_given(api):
    schedule = {"repeat": {"every": 60000, "limit": None}, "startDate": None, "endDate": None,
                "limit": None, "overlap": None}
    response = api.post("/jobs/schedule", {**SCHEDULE, "schedule": schedule}, format="json")
    assert response.status_code == 201
    assert (response.json()["overlap"], response.json()["limit"]) == ("allow", None)
    body = {"schedule": {"cron": "0 0 * * *", "tz": None}, "from": None}
    preview = api.post("/jobs/schedule/preview", body, format="json")
    assert preview.status_code == 200


def test_request_strings_are_strings(db):
    response = APIClient().post("/auth/login", {"username": 12, "password": 34}, format="json")
    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"username", "password"}
