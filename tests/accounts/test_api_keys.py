"""API keys: created once-shown, stored hashed, usable as X-API-Key everywhere, revocable, expiring."""

import hashlib
import re
from datetime import UTC, datetime, timedelta

from django.utils import timezone
from rest_framework.test import APIClient

from accounts import services
from accounts.models import ApiKey

KEY_RE = re.compile(r"^jsk_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$")


def with_key(raw: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_X_API_KEY=raw)
    return client


def test_create_shows_the_secret_once_and_stores_only_its_hash(db, owner, api):
    res = api.post("/auth/api-keys", {"name": "ci", "expiresAt": "2031-01-02T03:04:05Z"}, format="json")
    assert res.status_code == 201
    body = res.json()
    row = ApiKey.objects.get()
    assert KEY_RE.match(body["key"])
    assert body == {
        "id": row.pk,
        "userId": owner.pk,
        "name": "ci",
        "prefix": f"jsk_{row.prefix}",
        "permissions": [],
        "createdAt": row.created_at.isoformat().replace("+00:00", "Z"),
        "expiresAt": "2031-01-02T03:04:05Z",
        "lastUsed": None,
        "lastUsedAt": None,
        "isActive": True,
        "key": body["key"],
    }
    assert body["key"].startswith(f"jsk_{row.prefix}_")
    assert row.owner == owner and row.expires_at == datetime(2031, 1, 2, 3, 4, 5, tzinfo=UTC)
    assert row.key_hash == hashlib.sha256(body["key"].encode()).hexdigest()
    assert body["key"] not in str(ApiKey.objects.values_list()[0])
    listing = api.get("/auth/api-keys").json()
    assert listing == {
        "message": "API keys retrieved successfully",
        "apiKeys": [{k: v for k, v in body.items() if k != "key"}],
    }


def test_create_needs_a_name_and_a_future_expiry(db, api):
    res = api.post("/auth/api-keys", {}, format="json")
    assert res.status_code == 400
    assert res.json()["errors"] == {"name": ["This field is required."]}
    res = api.post("/auth/api-keys", {"name": "  "}, format="json")
    assert res.status_code == 400
    assert res.json()["errors"] == {"name": ["This field may not be blank."]}
    res = api.post("/auth/api-keys", {"name": "old", "expiresAt": "2001-01-01T00:00:00Z"}, format="json")
    assert res.status_code == 400
    assert res.json() == {
        "message": "expiresAt: must be in the future",
        "errors": {"expiresAt": ["expiresAt: must be in the future"]},
    }
    res = api.post("/auth/api-keys", {"name": "bad", "expiresAt": "tomorrow"}, format="json")
    assert res.status_code == 400
    assert list(res.json()["errors"]) == ["expiresAt"]
    assert ApiKey.objects.count() == 0


def test_key_authenticates_every_api_path_and_records_last_use(db, owner, api):
    raw = api.post("/auth/api-keys", {"name": "ci"}, format="json").json()["key"]
    client = with_key(raw)
    joined = owner.date_joined.isoformat().replace("+00:00", "Z")
    assert client.get("/auth/me").json() == {
        "id": owner.pk,
        "username": "owner",
        "email": "owner@example.test",
        "createdAt": joined,
        "updatedAt": joined,
    }
    assert client.get("/jobs").status_code == 200
    assert client.get("/jobs/schedule").status_code == 200
    res = client.post("/jobs/submit", {"name": "echo", "data": {"x": 1}}, format="json")
    assert res.status_code == 201  # no CSRF for header credentials
    first = ApiKey.objects.get().last_used_at
    assert first is not None and timezone.now() - first < timedelta(minutes=1)


def test_last_use_is_written_at_most_once_a_minute(db, owner, django_assert_num_queries):
    row, raw = services.api_key_create(owner=owner, name="ci")
    assert services.api_key_authenticate(raw).pk == row.pk
    stamped = ApiKey.objects.get().last_used_at
    with django_assert_num_queries(1):  # the lookup only: no write within the minute
        assert services.api_key_authenticate(raw).last_used_at == stamped
    earlier = stamped - timedelta(seconds=61)
    ApiKey.objects.filter(pk=row.pk).update(last_used_at=earlier)
    with django_assert_num_queries(2):  # lookup + one conditional UPDATE
        services.api_key_authenticate(raw)
    assert ApiKey.objects.get().last_used_at > earlier


def test_wrong_revoked_and_expired_keys_are_401(db, owner, api):
    body = api.post("/auth/api-keys", {"name": "ci"}, format="json").json()
    raw = body["key"]
    expected = {
        "message": "Invalid, expired or revoked API key",
        "errors": {"X-API-Key": ["X-API-Key: invalid, expired or revoked"]},
    }
    for bad in [
        "nonsense",
        raw[:-1] + ("A" if raw[-1] != "A" else "B"),
        "jsk_" + "0" * 16 + "_" + "x" * 43,
        "",
    ]:
        res = with_key(bad).get("/jobs")
        assert res.status_code == 401, bad
        assert res.json() == expected
    # expired
    ApiKey.objects.filter(pk=body["id"]).update(expires_at=timezone.now() - timedelta(seconds=1))
    res = with_key(raw).get("/jobs")
    assert res.status_code == 401 and res.json() == expected
    # revoked
    ApiKey.objects.filter(pk=body["id"]).update(expires_at=None)
    assert with_key(raw).get("/jobs").status_code == 200
    res = api.delete(f"/auth/api-keys/{body['id']}")
    assert res.status_code == 200
    assert res.json() == {"message": "API key revoked successfully"}
    res = with_key(raw).get("/jobs")
    assert res.status_code == 401 and res.json() == expected
    assert ApiKey.objects.get().revoked_at is not None
    # listed as inactive (the original's list); a second delete changes nothing
    assert [k["isActive"] for k in api.get("/auth/api-keys/").json()["apiKeys"]] == [False]
    assert api.delete(f"/auth/api-keys/{body['id']}/").status_code == 200
    assert with_key(raw).get("/jobs").status_code == 401


def test_key_of_an_inactive_user_does_not_authenticate(db, owner, api):
    raw = api.post("/auth/api-keys", {"name": "ci"}, format="json").json()["key"]
    owner.is_active = False
    owner.save()
    assert with_key(raw).get("/jobs").status_code == 401
    assert services.user_for_api_key(raw) is None


def test_user_for_api_key_for_the_websocket(db, owner):
    _, raw = services.api_key_create(owner=owner, name="socket")
    assert services.user_for_api_key(raw) == owner
    for bad in [None, "", "jsk_", "jsk_zzzz", raw + "x"]:
        assert services.user_for_api_key(bad) is None


def test_api_keys_need_authentication(db, anon):
    assert anon.get("/auth/api-keys").status_code == 401
    assert anon.post("/auth/api-keys", {"name": "x"}, format="json").status_code == 401
    assert anon.delete("/auth/api-keys/1").status_code == 401
