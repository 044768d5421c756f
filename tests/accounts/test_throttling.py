"""Login, register and password reset are throttled per client address: 429 with Retry-After."""

import re

import pytest
from django.conf import settings
from django.test import Client, override_settings

RATES = {
    "login": "2/minute",
    "register": "2/minute",
    "password_reset": "2/minute",
    "password_reset_confirm": "2/minute",
}
THROTTLED = re.compile(r"^Request was throttled\. Expected available in (\d+) seconds?\.$")


@pytest.fixture
def tight_rates():
    with override_settings(REST_FRAMEWORK={**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": RATES}):
        yield


def _assert_throttled(res):
    assert res.status_code == 429
    body = res.json()
    assert set(body) == {"message", "errors"} and body["errors"] == {}
    wait = int(THROTTLED.match(body["message"]).group(1))
    assert 1 <= wait <= 60
    assert int(res["Retry-After"]) == wait


CASES = [
    ("/auth/login", {"username": "owner", "password": "wrong"}),
    ("/auth/register", {"username": "u", "password": "123"}),
    ("/auth/request-password-reset", {"email": "nobody@example.test"}),
    ("/auth/reset-password", {"token": "x.y", "newPassword": "N3w-Secret-pass"}),
]


@pytest.mark.parametrize(("path", "payload"), CASES, ids=[c[0] for c in CASES])
def test_third_attempt_within_the_minute_is_429(db, owner, anon, tight_rates, path, payload):
    for _ in range(2):
        assert anon.post(path, payload, format="json").status_code in (200, 400, 401)
    _assert_throttled(anon.post(path, payload, format="json"))


def test_budget_is_per_client_address(db, owner, anon, tight_rates):
    payload = {"username": "owner", "password": "wrong"}
    for _ in range(2):
        anon.post("/auth/login", payload, format="json")
    _assert_throttled(anon.post("/auth/login", payload, format="json"))
    elsewhere = anon.post("/auth/login", payload, format="json", REMOTE_ADDR="10.1.2.3")
    assert elsewhere.status_code == 401


def test_default_login_rate_is_ten_a_minute(db, owner, anon):
    payload = {"username": "owner", "password": "wrong"}
    for _ in range(10):
        assert anon.post("/auth/login", payload, format="json").status_code == 401
    _assert_throttled(anon.post("/auth/login", payload, format="json"))


def test_login_page_shares_the_budget_and_answers_429(db, owner, anon, tight_rates):
    for _ in range(2):
        anon.post("/auth/login", {"username": "owner", "password": "wrong"}, format="json")
    res = Client().post("/login/", {"username": "owner", "password": "S3cure-pass-owner"})
    assert res.status_code == 429
    assert 1 <= int(res["Retry-After"]) <= 60
    assert b"Too many attempts" in res.content
