"""The throttles' client address is the socket's unless ``NUM_PROXIES`` says how many proxies to trust:
a new ``X-Forwarded-For`` per request must not buy a new budget (issue 13, item 4)."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request

import pytest
from django.conf import settings
from django.core import mail
from django.test import override_settings

from tests.conftest import WebServer

WRONG = {"username": "owner", "password": "wrong"}


def _login_statuses(anon, count: int) -> list[int]:
    return [
        anon.post("/auth/login", WRONG, format="json", HTTP_X_FORWARDED_FOR=f"203.0.113.{n}").status_code
        for n in range(count)
    ]


def test_fifteen_logins_with_fifteen_forwarded_for_values_are_throttled(db, owner, anon):
    # THROTTLE_LOGIN's default is 10/minute per address: the 11th try from the same socket is a 429.
    assert _login_statuses(anon, 15) == [401] * 10 + [429] * 5


def test_password_reset_mail_throttle_ignores_forwarded_for(db, owner, anon):
    statuses = [
        anon.post(
            "/auth/request-password-reset",
            {"email": owner.email},
            format="json",
            HTTP_X_FORWARDED_FOR=f"198.51.100.{n}",
        ).status_code
        for n in range(8)
    ]
    # THROTTLE_PASSWORD_RESET's default is 5/hour per address; only the allowed requests send mail.
    assert statuses == [200] * 5 + [429] * 3
    assert len(mail.outbox) == 5


def test_num_proxies_trusts_that_many_hops_of_forwarded_for(db, owner, anon):
    rest = {**settings.REST_FRAMEWORK, "NUM_PROXIES": 1}
    with override_settings(REST_FRAMEWORK=rest):
        # Behind one proxy the client is the last X-Forwarded-For entry (the one the proxy appended);
        # whatever the client wrote before it is ignored.
        spoofed = [
            anon.post(
                "/auth/login", WRONG, format="json", HTTP_X_FORWARDED_FOR=f"10.9.9.{n}, 192.0.2.7"
            ).status_code
            for n in range(11)
        ]
        assert spoofed == [401] * 10 + [429]
        other_client = anon.post("/auth/login", WRONG, format="json", HTTP_X_FORWARDED_FOR="192.0.2.8")
        assert other_client.status_code == 401


def _post(base: str, path: str, body: dict, forwarded_for: str) -> int:
    request = urllib.request.Request(
        base + path,
        data=json.dumps(body).encode(),
        headers={"Content-Type": "application/json", "X-Forwarded-For": forwarded_for},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


@pytest.mark.e2e
def test_live_server_does_not_take_the_client_address_from_forwarded_for(transactional_db, owner):
    """Through uvicorn as the Procfile runs it: uvicorn's own proxy-header handling would otherwise
    rewrite the socket address from X-Forwarded-For for a client on loopback."""
    web = WebServer()
    try:
        statuses = [_post(web.base, "/auth/login", WRONG, f"203.0.113.{n}") for n in range(15)]
    finally:
        web.stop()
    assert statuses == [401] * 10 + [429] * 5


def test_procfile_and_compose_run_uvicorn_without_proxy_headers():
    from tests.ops.test_compose import BASE_DIR, procfile

    assert "--no-proxy-headers" in procfile()["web"].split()
    compose = (BASE_DIR / "docker-compose.yml").read_text()
    assert re.search(r'"uvicorn", "config\.asgi:application",[^\]]*"--no-proxy-headers"', compose)
