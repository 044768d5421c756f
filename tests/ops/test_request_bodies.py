"""Request bodies: one limit on every route (``DATA_UPLOAD_MAX_MEMORY_SIZE``, 4 MiB), a 413 in the API's
error shape beyond it (unauthenticated login and refresh included), and chunked bodies read like any
other (issue 13, items 6 and 7)."""

from __future__ import annotations

import http.client
import json

import pytest
from django.conf import settings
from django.test import Client
from rest_framework.test import APIClient

from jobs.models import Job
from tests.conftest import WebServer
from tests.live.conftest import access_token

LIMIT = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
ROUTES = ["/auth/login", "/auth/refresh-token", "/auth/register", "/jobs/submit", "/jobs/schedule",
          "/webhooks", "/jobs/schedule/preview", "/login/", "/jobs/1/retry"]


def _too_large_body() -> bytes:
    return json.dumps({"username": "x" * (LIMIT + 1), "password": "y"}).encode()


def _expected(length: int) -> dict:
    return {"message": f"request body: {length} bytes is larger than the limit of {LIMIT} bytes",
            "errors": {}}


@pytest.mark.parametrize("path", ROUTES)
def test_a_body_over_the_limit_is_413_on_every_route(db, path):
    body = _too_large_body()
    for client in (APIClient(), Client()):
        response = client.generic("POST", path, body, content_type="application/json")
        assert (response.status_code, response.json()) == (413, _expected(len(body))), path


def _live_post(web: WebServer, path: str, chunks, *, chunked: bool, token: str | None = None):
    connection = http.client.HTTPConnection("127.0.0.1", web.port, timeout=60)
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    try:
        if chunked:
            headers["Transfer-Encoding"] = "chunked"
            connection.request("POST", path, body=iter(chunks), headers=headers, encode_chunked=True)
        else:
            connection.request("POST", path, body=b"".join(chunks), headers=headers)
        response = connection.getresponse()
        return response.status, json.loads(response.read() or b"{}")
    finally:
        connection.close()



@pytest.mark.e2e
def test_live_server_reads_chunked_bodies_and_refuses_large_ones(web_server, owner):
    token = access_token(owner)
    body = json.dumps({"name": "echo", "data": {"msg": "sent in chunks"}}).encode()
    pieces = [body[:10], body[10:25], body[25:]]
    status, job = _live_post(web_server, "/jobs/submit", pieces, chunked=True, token=token)
    assert status == 201, job
    assert Job.objects.get(pk=job["id"]).data == {"msg": "sent in chunks"}

    login = json.dumps({"username": "owner", "password": "S3cure-pass-owner"}).encode()
    status, tokens = _live_post(web_server, "/auth/login", [login[:7], login[7:]], chunked=True)
    assert status == 200 and set(tokens) >= {"accessToken", "refreshToken"}

    big = _too_large_body()
    pieces = [big[i : i + 65536] for i in range(0, len(big), 65536)]
    for path in ("/auth/login", "/auth/refresh-token", "/jobs/submit"):
        status, answer = _live_post(web_server, path, pieces, chunked=True, token=token)
        assert (status, answer) == (413, {"message": f"request body: more than {LIMIT} bytes; the limit is "
                                                     f"{LIMIT} bytes", "errors": {}}), path
        status, answer = _live_post(web_server, path, pieces, chunked=False, token=token)
        assert (status, answer) == (413, _expected(len(big))), path
