"""CORS (django-cors-headers): any origin by default, without credentials; pre-flights answered without
credentials; Origin ``null`` (a page opened from file://) works; CORS_ALLOWED_ORIGINS restricts."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from tests.conftest import api_for


def preflight(client, path, origin, method="POST", headers="authorization,content-type,x-api-key"):
    return client.options(
        path,
        HTTP_ORIGIN=origin,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD=method,
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS=headers,
    )


@pytest.mark.parametrize("path", ["/jobs/submit", "/submit-job", "/login", "/jobs/schedule", "/api-keys/3"])
@pytest.mark.parametrize("origin", ["null", "http://localhost:5173", "https://example.org"])
def test_preflight_is_answered_without_credentials_for_any_origin(db, path, origin):
    res = preflight(APIClient(), path, origin)
    assert res.status_code == 200
    assert res["Access-Control-Allow-Origin"] == "*"
    assert "access-control-allow-credentials" not in {k.lower() for k in res.headers}
    allowed = {h.strip() for h in res["Access-Control-Allow-Headers"].split(",")}
    assert {"authorization", "content-type", "x-api-key"} <= allowed
    assert "POST" in res["Access-Control-Allow-Methods"]


def test_answers_carry_the_header_for_a_file_page(db, owner):
    res = api_for(owner).get("/jobs", HTTP_ORIGIN="null")
    assert (res.status_code, res["Access-Control-Allow-Origin"]) == (200, "*")
    res = APIClient().post(
        "/login", {"username": "owner", "password": "nope"}, format="json", HTTP_ORIGIN="null"
    )
    assert (res.status_code, res["Access-Control-Allow-Origin"]) == (401, "*")


def test_setting_restricts_origins(db, settings):
    settings.CORS_ALLOW_ALL_ORIGINS = False
    settings.CORS_ALLOWED_ORIGINS = ["https://app.example.org", "null"]
    ok = preflight(APIClient(), "/jobs/submit", "https://app.example.org")
    assert ok["Access-Control-Allow-Origin"] == "https://app.example.org"
    assert preflight(APIClient(), "/jobs/submit", "null")["Access-Control-Allow-Origin"] == "null"
    refused = preflight(APIClient(), "/jobs/submit", "https://evil.example.net")
    assert "Access-Control-Allow-Origin" not in refused
