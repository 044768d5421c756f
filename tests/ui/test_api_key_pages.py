"""API key pages: list (name, created, expires, last used), create form with the secret shown once,
expiry in the viewer's time zone, the service's field errors, revoke, other users' keys 404."""

from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client
from django.utils import timezone

from accounts import services
from accounts.models import ApiKey

from .helpers import client_for

pytestmark = pytest.mark.django_db


def test_anonymous_is_sent_to_login():
    res = Client().get("/app/api-keys/")
    assert res.status_code == 302 and res["Location"] == "/login/?next=/app/api-keys/"


def test_create_shows_the_key_once_and_it_authenticates(owner):
    client = client_for(owner)
    res = client.post("/app/api-keys/", {"name": "CI pipeline", "expires_at": ""})
    assert res.status_code == 302 and res["Location"] == "/app/api-keys/"
    row = ApiKey.objects.get(owner=owner)
    assert (row.name, row.expires_at, row.revoked_at) == ("CI pipeline", None, None)
    first = client.get("/app/api-keys/")
    raw = first.context["created"]["key"]
    assert raw.startswith(f"jsk_{row.prefix}_") and f'value="{raw}"' in first.content.decode()
    assert services.api_key_authenticate(raw).pk == row.pk
    again = client.get("/app/api-keys/")
    assert again.context["created"] is None and raw not in again.content.decode()
    assert Client().get("/auth/me", HTTP_X_API_KEY=raw).json()["username"] == "owner"


def test_expiry_is_read_in_the_viewers_time_zone(owner):
    client = client_for(owner)
    client.cookies["tz"] = "Asia/Tokyo"
    res = client.post("/app/api-keys/", {"name": "nightly", "expires_at": "2031-01-10T09:00"})
    assert res.status_code == 302
    assert ApiKey.objects.get().expires_at == datetime(2031, 1, 10, 0, 0, tzinfo=UTC)


def test_list_shows_own_unrevoked_keys_with_times(owner, other_user):
    mine, _ = services.api_key_create(owner=owner, name="mine", expires_at=timezone.now() + timedelta(days=3))
    revoked, _ = services.api_key_create(owner=owner, name="old")
    services.api_key_revoke(api_key=revoked)
    services.api_key_create(owner=other_user, name="theirs")
    ApiKey.objects.filter(pk=mine.pk).update(last_used_at=datetime(2030, 5, 1, 12, 0, tzinfo=UTC))
    res = client_for(owner).get("/app/api-keys/")
    html = res.content.decode()
    assert [k.pk for k in res.context["keys"]] == [mine.pk]
    assert "theirs" not in html and ">old<" not in html
    assert f"jsk_{mine.prefix}_…" in html and 'datetime="2030-05-01T12:00:00Z"' in html


@pytest.mark.parametrize(
    ("body", "errors"),
    [
        ({"name": "", "expires_at": ""}, {"name": ["This field is required."]}),
        ({"name": "   ", "expires_at": ""}, {"name": ["This field is required."]}),
        (
            {"name": "x", "expires_at": "2001-01-01T00:00"},
            {"expires_at": ["Must be in the future"]},
        ),
        ({"name": "x", "expires_at": "tomorrow"}, {"expires_at": ["Enter a valid date/time."]}),
    ],
)
def test_field_errors_are_shown_inline(owner, body, errors):
    res = client_for(owner).post("/app/api-keys/", body)
    assert res.status_code == 200 and res.context["form"].errors == errors
    assert ApiKey.objects.count() == 0 and 'class="field-error"' in res.content.decode()


def test_revoke_stops_the_key(owner):
    row, raw = services.api_key_create(owner=owner, name="ci")
    client = client_for(owner)
    res = client.post(f"/app/api-keys/{row.pk}/revoke/")
    assert res.status_code == 302 and res["Location"] == "/app/api-keys/"
    row.refresh_from_db()
    assert row.revoked_at is not None and services.api_key_authenticate(raw) is None
    assert [str(m) for m in client.get("/app/api-keys/").context["messages"]] == ["API key “ci” revoked."]
    assert client.post(f"/app/api-keys/{row.pk}/revoke/").status_code == 404


def test_other_users_key_is_404_and_stays_usable(owner, other_user):
    theirs, raw = services.api_key_create(owner=other_user, name="theirs")
    client = client_for(owner)
    assert client.post(f"/app/api-keys/{theirs.pk}/revoke/").status_code == 404
    assert client.post("/app/api-keys/nope/revoke/").status_code == 404
    assert client.get(f"/app/api-keys/{theirs.pk}/revoke/").status_code == 405
    assert services.api_key_authenticate(raw).pk == theirs.pk


def test_forms_carry_csrf_protection(owner):
    row, _ = services.api_key_create(owner=owner, name="ci")
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    assert client.post(f"/app/api-keys/{row.pk}/revoke/").status_code == 403
    assert client.post("/app/api-keys/", {"name": "x"}).status_code == 403
    assert ApiKey.objects.filter(revoked_at__isnull=True).count() == 1
