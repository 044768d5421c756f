"""Refresh, logout and the 401s of bad access/refresh tokens (simplejwt with its blacklist)."""

from datetime import timedelta

from django.utils import timezone
from rest_framework.test import APIClient
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from .conftest import login


def bearer(token: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def test_refresh_returns_a_new_pair_and_rotates(db, owner, anon):
    tokens = login(anon)
    res = anon.post("/auth/refresh-token", {"refreshToken": tokens["refreshToken"]}, format="json")
    assert res.status_code == 200
    body = res.json()
    assert set(body) == {"accessToken", "refreshToken"}
    assert body["refreshToken"] != tokens["refreshToken"]
    assert AccessToken(body["accessToken"])["userId"] == str(owner.pk)
    assert bearer(body["accessToken"]).get("/auth/me").json()["id"] == owner.pk
    # the old refresh token was blacklisted by the rotation; the new one works once more
    again = anon.post("/auth/refresh-token/", {"refreshToken": tokens["refreshToken"]}, format="json")
    assert again.status_code == 401
    assert again.json() == {
        "message": "Invalid or expired refresh token",
        "errors": {"refreshToken": ["refreshToken: Token is blacklisted"]},
    }
    assert (
        anon.post("/auth/refresh-token", {"refreshToken": body["refreshToken"]}, format="json").status_code
        == 200
    )


def test_refresh_with_missing_or_wrong_field_is_400(db, anon):
    res = anon.post("/auth/refresh-token", {"refresh": "x"}, format="json")
    assert res.status_code == 400
    assert res.json() == {
        "message": "refreshToken: This field is required.",
        "errors": {"refreshToken": ["This field is required."]},
    }


def test_refresh_with_garbage_expired_or_access_token_is_401(db, owner, anon):
    expired = RefreshToken.for_user(owner)
    expired.set_exp(from_time=timezone.now() - timedelta(days=8))
    access = str(RefreshToken.for_user(owner).access_token)
    cases = {
        "not.a.jwt": "refreshToken: Token is invalid",
        str(expired): "refreshToken: Token is expired",
        access: "refreshToken: Token has wrong type",
    }
    for token, reason in cases.items():
        res = anon.post("/auth/refresh-token", {"refreshToken": token}, format="json")
        assert res.status_code == 401, token
        assert res.json() == {
            "message": "Invalid or expired refresh token",
            "errors": {"refreshToken": [reason]},
        }


def test_refresh_of_a_deleted_user_is_401_not_500(db, django_user_model, anon):
    user = django_user_model.objects.create_user("ghost", "g@example.test", "S3cure-pass-ghost")
    token = str(RefreshToken.for_user(user))
    user.delete()
    res = anon.post("/auth/refresh-token", {"refreshToken": token}, format="json")
    assert res.status_code == 401
    assert res.json()["errors"] == {
        "refreshToken": ["refreshToken: No active account found for the given token"]
    }


def test_logout_blacklists_the_refresh_token(db, owner, anon):
    tokens = login(anon)
    client = bearer(tokens["accessToken"])
    res = client.post("/auth/logout", {"refreshToken": tokens["refreshToken"]}, format="json")
    assert res.status_code == 200
    assert res.json() == {"message": "Logout successful"}
    assert BlacklistedToken.objects.filter(
        token__jti=RefreshToken(tokens["refreshToken"], verify=False)["jti"]
    ).exists()
    res = anon.post("/auth/refresh-token", {"refreshToken": tokens["refreshToken"]}, format="json")
    assert res.status_code == 401
    assert res.json()["errors"] == {"refreshToken": ["refreshToken: Token is blacklisted"]}
    # logging out twice: the token is no longer valid
    again = client.post("/auth/logout", {"refreshToken": tokens["refreshToken"]}, format="json")
    assert again.status_code == 401


def test_logout_needs_authentication_and_the_callers_own_token(db, owner, other_user, anon):
    tokens = login(anon)
    assert (
        anon.post("/auth/logout", {"refreshToken": tokens["refreshToken"]}, format="json").status_code == 401
    )
    other = bearer(str(RefreshToken.for_user(other_user).access_token))
    res = other.post("/auth/logout", {"refreshToken": tokens["refreshToken"]}, format="json")
    assert res.status_code == 401
    assert res.json() == {
        "message": "Invalid or expired refresh token",
        "errors": {"refreshToken": ["refreshToken: Token belongs to another user"]},
    }
    # the owner's token still works
    assert (
        anon.post("/auth/refresh-token", {"refreshToken": tokens["refreshToken"]}, format="json").status_code
        == 200
    )


def test_logout_without_a_body_revokes_every_refresh_token_of_the_caller(db, owner, api, other_user):
    """The original's logout takes no body (it cleared the user's refresh token)."""
    anon = APIClient()
    mine = [login(anon)["refreshToken"] for _ in range(2)]
    theirs = anon.post(
        "/auth/login", {"username": "other", "password": "S3cure-pass-other"}, format="json"
    ).json()["refreshToken"]
    res = api.post("/auth/logout")
    assert (res.status_code, res.json()) == (200, {"message": "Logout successful"})
    for token in mine:
        refused = anon.post("/auth/refresh-token", {"refreshToken": token}, format="json")
        assert refused.status_code == 401
    assert anon.post("/auth/refresh-token", {"refreshToken": theirs}, format="json").status_code == 200


def test_garbage_access_token_is_401_in_the_error_shape(db):
    res = bearer("not.a.jwt").get("/jobs")
    assert res.status_code == 401
    assert res.json() == {
        "message": "Invalid or expired access token",
        "errors": {"token": ["Token is invalid"]},
    }
    assert res["WWW-Authenticate"] == 'Bearer realm="api"'


def test_expired_access_token_is_401(db, owner):
    token = AccessToken.for_user(owner)
    token.set_exp(from_time=timezone.now() - timedelta(hours=1))
    res = bearer(str(token)).get("/auth/me")
    assert res.status_code == 401
    assert res.json() == {
        "message": "Invalid or expired access token",
        "errors": {"token": ["Token is expired"]},
    }


def test_lifetimes_are_30_minutes_and_7_days_by_default(db, owner, anon):
    tokens = login(anon)
    access, refresh = AccessToken(tokens["accessToken"]), RefreshToken(tokens["refreshToken"])
    assert access["exp"] - access["iat"] == 30 * 60
    assert refresh["exp"] - refresh["iat"] == 7 * 24 * 3600


def test_refresh_token_is_not_accepted_as_access_token(db, owner):
    res = bearer(str(RefreshToken.for_user(owner))).get("/auth/me")
    assert res.status_code == 401
    assert res.json()["errors"] == {"token": ["Token has wrong type"]}


def test_no_credentials_is_401(db, anon):
    res = anon.get("/auth/me")
    assert res.status_code == 401
    assert res.json() == {"message": "Authentication credentials were not provided.", "errors": {}}


def test_user_for_access_token_for_the_websocket(db, owner):
    from accounts.services import user_for_access_token

    good = str(AccessToken.for_user(owner))
    assert user_for_access_token(good) == owner
    expired = AccessToken.for_user(owner)
    expired.set_exp(from_time=timezone.now() - timedelta(hours=1))
    for bad in [None, "", "not.a.jwt", str(expired), str(RefreshToken.for_user(owner))]:
        assert user_for_access_token(bad) is None
    owner.is_active = False
    owner.save()
    assert user_for_access_token(good) is None
