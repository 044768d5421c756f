"""Password reset over the API: same answer for unknown emails, a single-use expiring token by mail."""

import re
from datetime import datetime, timedelta

from django.contrib.auth.tokens import PasswordResetTokenGenerator, default_token_generator
from django.core import mail
from django.test import Client
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken

from accounts.models import ApiKey

from .conftest import OWNER_PASSWORD, login

SAME_BODY = {"message": "If an account with that email exists, a password reset email has been sent"}


def _request(client, email):
    return client.post("/auth/request-password-reset", {"email": email}, format="json")


def _mailed_token(message) -> str:
    return re.search(r"^(\S+\.\S+-\S+)$", message.body, re.MULTILINE).group(1)


def test_request_for_a_known_email_mails_a_token(db, owner, anon):
    res = _request(anon, "OWNER@example.test")  # case-insensitive, as Django's PasswordResetForm
    assert res.status_code == 200
    assert res.json() == SAME_BODY
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.to == ["owner@example.test"]
    assert message.subject == "Reset your jobserver password"
    uid = urlsafe_base64_encode(force_bytes(owner.pk))
    token = _mailed_token(message)
    assert token.startswith(f"{uid}.")
    assert default_token_generator.check_token(owner, token.split(".", 1)[1])
    assert f"http://testserver/password-reset/{uid}/{token.split('.', 1)[1]}/" in message.body


def test_request_for_an_unknown_email_answers_the_same_and_sends_nothing(db, owner, anon):
    res = _request(anon, "nobody@example.test")
    assert res.status_code == 200
    assert res.json() == SAME_BODY
    assert mail.outbox == []


def test_request_with_missing_or_malformed_email_is_400(db, anon):
    res = anon.post("/auth/request-password-reset", {}, format="json")
    assert res.status_code == 400
    assert res.json()["errors"] == {"email": ["This field is required."]}
    res = _request(anon, "not-an-email")
    assert res.status_code == 400
    assert res.json() == {
        "message": "email: Enter a valid email address.",
        "errors": {"email": ["email: Enter a valid email address."]},
    }


def test_reset_sets_the_password_once_and_ends_other_sessions(db, owner, anon):
    old_tokens = login(anon)
    _request(anon, owner.email)
    token = _mailed_token(mail.outbox[0])
    res = anon.post("/auth/reset-password", {"token": token, "newPassword": "N3w-Secret-pass"}, format="json")
    assert res.status_code == 200
    assert res.json() == {"message": "Password reset successful"}
    owner.refresh_from_db()
    assert owner.check_password("N3w-Secret-pass")
    bad = anon.post("/auth/login", {"username": "owner", "password": OWNER_PASSWORD}, format="json")
    assert bad.status_code == 401
    # refresh tokens issued before the reset are revoked
    assert BlacklistedToken.objects.filter(token__user=owner).count() == 1
    res = anon.post("/auth/refresh-token", {"refreshToken": old_tokens["refreshToken"]}, format="json")
    assert res.status_code == 401
    # single use: the password hash changed, so the same token no longer checks
    again = anon.post(
        "/auth/reset-password", {"token": token, "newPassword": "An0ther-pass-77"}, format="json"
    )
    assert again.status_code == 400
    assert again.json() == {
        "message": "token: invalid, already used or expired; request a new password reset",
        "errors": {"token": ["token: invalid, already used or expired; request a new password reset"]},
    }
    assert login(anon, password="N3w-Secret-pass")["accessToken"]


def test_expired_token_is_refused(db, owner, anon, settings):
    class IssuedEarlier(PasswordResetTokenGenerator):
        """Django's generator with its clock set just past the timeout: a token mailed back then."""

        def _now(self):
            return datetime.now() - timedelta(seconds=settings.PASSWORD_RESET_TIMEOUT + 5)

    token = f"{urlsafe_base64_encode(force_bytes(owner.pk))}.{IssuedEarlier().make_token(owner)}"
    assert not default_token_generator.check_token(owner, token.split(".", 1)[1])
    res = anon.post("/auth/reset-password", {"token": token, "newPassword": "N3w-Secret-pass"}, format="json")
    assert res.status_code == 400
    assert list(res.json()["errors"]) == ["token"]
    owner.refresh_from_db()
    assert owner.check_password(OWNER_PASSWORD)


def test_garbage_tokens_are_refused(db, owner, anon):
    for token in ["", "x", "abc.def", "MQ.bad-token", "!!!.zzz", "OTk5OTk5.abc-def"]:
        res = anon.post(
            "/auth/reset-password", {"token": token, "newPassword": "N3w-Secret-pass"}, format="json"
        )
        assert res.status_code == 400, token
        assert list(res.json()["errors"]) == ["token"], token


def test_new_password_goes_through_djangos_validators(db, owner, anon):
    _request(anon, owner.email)
    token = _mailed_token(mail.outbox[0])
    res = anon.post("/auth/reset-password", {"token": token, "newPassword": "12345678"}, format="json")
    assert res.status_code == 400
    assert res.json()["errors"] == {
        "newPassword": ["This password is too common.", "This password is entirely numeric."]
    }
    # the token was not used up by the refused attempt
    ok = anon.post("/auth/reset-password", {"token": token, "newPassword": "N3w-Secret-pass"}, format="json")
    assert ok.status_code == 200


def test_reset_with_missing_fields_is_400(db, anon):
    res = anon.post("/auth/reset-password", {"password": "x"}, format="json")
    assert res.status_code == 400
    assert res.json()["errors"] == {
        "token": ["This field is required."],
        "newPassword": ["This field is required."],
    }


def _create_key(api) -> str:
    res = api.post("/auth/api-keys", {"name": "ci"}, format="json")
    assert res.status_code == 201
    return res.json()["key"]


def test_reset_over_the_api_revokes_every_api_key(db, owner, anon, api):
    keys = [_create_key(api), _create_key(api)]
    assert [anon.get("/auth/me", HTTP_X_API_KEY=k).status_code for k in keys] == [200, 200]
    _request(anon, owner.email)
    res = anon.post(
        "/auth/reset-password", {"token": _mailed_token(mail.outbox[0]), "newPassword": "N3w-Secret-pass"},
        format="json",
    )
    assert res.status_code == 200
    assert [anon.get("/auth/me", HTTP_X_API_KEY=k).status_code for k in keys] == [401, 401]
    assert ApiKey.objects.filter(owner=owner, revoked_at__isnull=True).count() == 0


def test_reset_on_the_page_revokes_every_api_key(db, owner, anon, api):
    key = _create_key(api)
    page = Client()
    page.post("/password-reset/", {"email": owner.email})
    uid, check = _mailed_token(mail.outbox[0]).split(".", 1)
    form = page.get(f"/password-reset/{uid}/{check}/", follow=True)
    new = {"new_password1": "N3w-Secret-pass", "new_password2": "N3w-Secret-pass"}
    res = page.post(form.redirect_chain[-1][0], new)
    assert res.status_code == 302 and res["Location"] == "/password-reset/complete/"
    assert anon.get("/auth/me", HTTP_X_API_KEY=key).status_code == 401
