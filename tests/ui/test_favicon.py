"""/favicon.ico is served (browsers ask for it on every page) and every page links it."""

import pytest
from django.test import Client

from .helpers import client_for

pytestmark = pytest.mark.django_db


def test_favicon_is_served_at_the_root():
    res = Client().get("/favicon.ico")
    assert res.status_code == 200
    body = b"".join(res.streaming_content) if res.streaming else res.content
    assert body[:4] == b"\x00\x00\x01\x00"  # an ICO file
    assert res["Content-Type"] in ("image/x-icon", "image/vnd.microsoft.icon")


def test_pages_and_admin_link_it(owner, admin_user):
    assert '<link rel="icon" href="/favicon.ico">' in client_for(owner).get("/").content.decode()
    assert '<link rel="icon" href="/favicon.ico">' in client_for(admin_user).get("/admin/").content.decode()
