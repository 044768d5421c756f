"""Accounts: registration, tokens, password reset and API keys. Every entry point (API, pages, admin,
websocket consumer) calls these, so each rule lives once.

Errors: ``django.core.exceptions.ValidationError`` keyed by the API's field names (messages start
with the field), ``UsernameTaken`` (409), ``InvalidCredentials`` and ``TokenInvalid`` (401).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import authenticate, get_user_model
from django.contrib.auth.forms import PasswordResetForm
from django.contrib.auth.models import update_last_login
from django.contrib.auth.password_validation import validate_password
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.encoding import force_str
from django.utils.http import urlsafe_base64_decode
from rest_framework import exceptions as drf_exceptions
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import InvalidToken, TokenError
from rest_framework_simplejwt.settings import api_settings as jwt_settings
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken
from rest_framework_simplejwt.tokens import RefreshToken

from config.errors import ConflictError

from .models import ApiKey

User = get_user_model()

RESET_SUBJECT_TEMPLATE = "registration/password_reset_subject.txt"
RESET_EMAIL_TEMPLATE = "registration/password_reset_email.txt"
API_KEY_MARK = "jsk_"
_PREFIX_LEN = 16  # hex characters: 64 random bits, unique per key, only for lookup


class UsernameTaken(ConflictError):
    """The username exists already (compared case-insensitively, as Django's ``UserCreationForm``)."""

    def __init__(self, message: str = "username: a user with that username already exists") -> None:
        super().__init__(message)


class InvalidCredentials(Exception):
    """Wrong username or password, or an inactive account."""


class TokenInvalid(Exception):
    """A refresh token that is malformed, expired, blacklisted, of the wrong type or not the caller's."""


def _err(field: str, message: str, code: str = "invalid") -> ValidationError:
    return ValidationError({field: [ValidationError(message, code=code)]})


# --- users and tokens ----------------------------------------------------------------------------------


def token_pair(user) -> dict[str, str]:
    """A fresh ``{"accessToken", "refreshToken"}`` pair for ``user`` (simplejwt; lifetimes: ``SIMPLE_JWT``).

    The refresh token is recorded as outstanding, so logout and rotation can blacklist it.
    """
    refresh = RefreshToken.for_user(user)
    return {"accessToken": str(refresh.access_token), "refreshToken": str(refresh)}


def user_register(*, username: str, password: str, email: str = "", webhook_url: str | None = None):
    """Create an active user with ``password`` after Django's username rule and password validators.

    ``webhook_url`` is JobRunner's legacy ``user.webhookUrl``: it becomes the user's legacy webhook for
    ``completed`` events (``webhooks.services.webhook_set_legacy_url``), under the webhooks' URL rules.
    Raises ``ValidationError`` (``username`` / ``password`` / ``webhookUrl``) or ``UsernameTaken``.
    Atomic: a refused ``webhookUrl`` creates no user.
    """
    from webhooks.services import webhook_set_legacy_url  # lazy: webhooks imports jobs, jobs accounts

    try:
        User.username_validator(username)
    except ValidationError as exc:
        raise ValidationError({"username": [f"username: {m}" for m in exc.messages]}) from None
    try:
        validate_password(password, user=User(username=username, email=email))
    except ValidationError as exc:
        raise ValidationError({"password": list(exc.messages)}) from None
    try:
        with transaction.atomic():
            if User.objects.filter(username__iexact=username).exists():
                raise UsernameTaken()
            user = User.objects.create_user(username, email, password)
            if webhook_url:
                webhook_set_legacy_url(owner=user, url=webhook_url)  # its errors name webhookUrl
            return user
    except IntegrityError:  # a concurrent registration of the same name won the race
        raise UsernameTaken() from None


def user_login(*, username: str, password: str, request=None):
    """The user for these credentials (Django's ``authenticate``, so every auth backend and
    ``is_active`` apply); records ``last_login``. Raises ``InvalidCredentials``."""
    user = authenticate(request, username=username, password=password)
    if user is None:
        raise InvalidCredentials()
    update_last_login(User, user)  # a signal receiver: the sender is the user model
    return user


def _refresh_token(raw: str) -> RefreshToken:
    try:
        # Verifies signature, expiry, type and the blacklist; simplejwt annotates the argument as a Token,
        # yet takes (and documents) the encoded string.
        return RefreshToken(raw)  # type: ignore[arg-type]
    except TokenError as exc:
        raise TokenInvalid(str(exc.args[0])) from None


def token_refresh(*, refresh_token: str) -> dict[str, str]:
    """Exchange a refresh token for ``{"accessToken", "refreshToken"}``.

    The given refresh token is blacklisted and a new one issued (rotation; without it, with
    ``JWT_ROTATE_REFRESH_TOKENS=false``, only ``{"accessToken"}``), as simplejwt's
    ``TokenRefreshSerializer`` with ``ROTATE_REFRESH_TOKENS`` and ``BLACKLIST_AFTER_ROTATION``; unlike
    that serializer a deleted or inactive user is a ``TokenInvalid``, not a server error.
    """
    refresh = _refresh_token(refresh_token)
    user = User.objects.filter(
        **{jwt_settings.USER_ID_FIELD: refresh.payload.get(jwt_settings.USER_ID_CLAIM)}
    ).first()
    if user is None or not jwt_settings.USER_AUTHENTICATION_RULE(user):
        raise TokenInvalid("No active account found for the given token")
    if not jwt_settings.ROTATE_REFRESH_TOKENS:
        # JWT_ROTATE_REFRESH_TOKENS=false: the original's answer, the refresh token stays valid.
        return {"accessToken": str(refresh.access_token)}
    with transaction.atomic():
        # simplejwt annotates blacklist() as the row; it returns get_or_create's (row, created).
        outcome: Any = refresh.blacklist()
        _, first = outcome
        if not first:
            # Two refreshes of one token raced past the blacklist check; only the first may rotate it.
            raise TokenInvalid("Token is blacklisted")
        refresh.set_jti()
        refresh.set_exp()
        refresh.set_iat()
        refresh.outstand()
    return {"accessToken": str(refresh.access_token), "refreshToken": str(refresh)}


def token_revoke(*, refresh_token: str, user) -> None:
    """Logout: blacklist ``user``'s refresh token so it can no longer be refreshed.

    Access tokens already issued stay valid until they expire (``JWT_ACCESS_MINUTES``). Raises
    ``TokenInvalid`` if the token is not a valid refresh token of ``user``.
    """
    refresh = _refresh_token(refresh_token)
    if str(refresh.payload.get(jwt_settings.USER_ID_CLAIM)) != str(getattr(user, jwt_settings.USER_ID_FIELD)):
        raise TokenInvalid("Token belongs to another user")
    refresh.blacklist()


def user_for_access_token(raw: str | None):
    """The active user of a valid access JWT, or ``None`` (for the websocket's ``?token=``; synchronous).

    The same checks as the ``Authorization: Bearer`` header: signature, expiry, token type, active user.
    """
    if not raw:
        return None
    auth = JWTAuthentication()
    try:
        return auth.get_user(auth.get_validated_token(raw.encode() if isinstance(raw, str) else raw))
    except (InvalidToken, drf_exceptions.AuthenticationFailed):
        return None


def tokens_revoke_all(*, user) -> int:
    """Blacklist every outstanding refresh token of ``user``; returns how many."""
    pending = OutstandingToken.objects.filter(user=user, blacklistedtoken__isnull=True)
    rows = [BlacklistedToken(token=t) for t in pending]
    BlacklistedToken.objects.bulk_create(rows, ignore_conflicts=True)
    return len(rows)


def credentials_revoke_all(*, user) -> None:
    """After a password reset (API and page alike): every refresh token and every API key of ``user``
    stops working, so whoever knew the old password keeps no way in. Access tokens already issued
    expire on their own (``JWT_ACCESS_MINUTES``)."""
    tokens_revoke_all(user=user)
    ApiKey.objects.filter(owner=user, revoked_at__isnull=True).update(revoked_at=timezone.now())


# --- password reset ------------------------------------------------------------------------------------


def password_reset_request(*, email: str, domain: str, use_https: bool) -> None:
    """Mail a one-time reset token to every active account with ``email`` (case-insensitive) and a
    usable password; does the same visible nothing when there is none (no account enumeration).

    Django's ``PasswordResetForm`` selects the accounts and sends the mail, so the web page and the API
    send the same mail. The mail carries a link to ``/password-reset/<uidb64>/<token>/`` and the API
    token ``<uidb64>.<token>`` (see ``password_reset_confirm``). Mail errors are logged, not raised.
    Raises ``ValidationError`` (``email``) only for a malformed address.
    """
    form = PasswordResetForm(data={"email": email})
    if not form.is_valid():
        raise ValidationError({"email": [f"email: {m}" for m in form.errors["email"]]})
    form.save(
        domain_override=domain,
        use_https=use_https,
        subject_template_name=RESET_SUBJECT_TEMPLATE,
        email_template_name=RESET_EMAIL_TEMPLATE,
    )


def password_reset_confirm(*, token: str, new_password: str):
    """Set a new password with a reset token ``"<uidb64>.<token>"`` from the reset mail; returns the user.

    Django's ``default_token_generator`` checks the token: it expires after ``PASSWORD_RESET_TIMEOUT``
    seconds and is single-use because it hashes the password (and last login), which this changes.
    Every refresh token and API key of the user is revoked (:func:`credentials_revoke_all`). Raises
    ``ValidationError`` (``token`` for a bad/used/expired token, ``newPassword`` for the validators).
    """
    uidb64, _, check = (token or "").partition(".")
    user = None
    if uidb64 and check:
        try:
            pk = force_str(urlsafe_base64_decode(uidb64))
            user = User.objects.filter(pk=int(pk), is_active=True).first()
        except (ValueError, TypeError, OverflowError):
            user = None
    if user is None or not default_token_generator.check_token(user, check):
        raise _err(
            "token", "token: invalid, already used or expired; request a new password reset", "invalid_token"
        )
    try:
        validate_password(new_password, user=user)
    except ValidationError as exc:
        raise ValidationError({"newPassword": list(exc.messages)}) from None
    with transaction.atomic():
        user.set_password(new_password)
        user.save(update_fields=["password"])
        credentials_revoke_all(user=user)
    return user


# --- API keys --------------------------------------------------------------------------------------------


def _key_hash(raw: str) -> str:
    # SHA-256, not a slow password hasher: the secret has 256 random bits, so there is nothing to
    # brute-force, and a slow hash would cost every API request tens of milliseconds.
    return hashlib.sha256(raw.encode()).hexdigest()


def api_key_create(
    *, owner, name: str, expires_at: datetime | None = None, permissions: Any = None
) -> tuple[ApiKey, str]:
    """Create an API key for ``owner``; returns ``(row, raw_key)``. The raw key ``jsk_<prefix>_<secret>``
    is never stored (only its SHA-256) and cannot be shown again.

    ``expires_at`` (aware, UTC) must be in the future; ``permissions`` is a list of labels (stored, not
    enforced, as the original). Raises ``ValidationError`` (``name``, ``expiresAt``, ``permissions``).
    """
    permissions = [] if permissions is None else _clean_permissions(permissions)
    name = (name or "").strip()
    if not name:
        raise _err("name", "name: required", "required")
    if len(name) > 100:
        raise _err("name", "name: at most 100 characters", "max_length")
    if expires_at is not None and expires_at <= timezone.now():
        raise _err("expiresAt", "expiresAt: must be in the future", "past")
    prefix = secrets.token_hex(_PREFIX_LEN // 2)
    raw = f"{API_KEY_MARK}{prefix}_{secrets.token_urlsafe(32)}"
    row = ApiKey.objects.create(
        owner=owner,
        name=name,
        prefix=prefix,
        key_hash=_key_hash(raw),
        expires_at=expires_at,
        permissions=permissions,
    )
    return row, raw


def _clean_permissions(permissions: Any) -> list[str]:
    if not isinstance(permissions, list) or not all(isinstance(p, str) and p for p in permissions):
        raise _err("permissions", "permissions: must be an array of non-empty strings", "invalid")
    if len(permissions) > 50 or any(len(p) > 100 for p in permissions):
        raise _err("permissions", "permissions: at most 50 labels of at most 100 characters", "max_length")
    return list(dict.fromkeys(permissions))


_UNSET: Any = object()


def api_key_update(
    *,
    api_key: ApiKey,
    name: Any = _UNSET,
    permissions: Any = _UNSET,
    expires_at: Any = _UNSET,
    is_active: Any = _UNSET,
) -> ApiKey:
    """Change a key's ``name``, ``permissions``, ``expires_at`` (``None``: never) or ``is_active``
    (``False`` revokes as :func:`api_key_revoke`, ``True`` lifts a revocation: the original's ``PUT
    /api-keys/:id``). Omitted arguments keep their value. Raises ``ValidationError`` naming the field.
    """
    fields: list[str] = []
    if name is not _UNSET:
        name = (name or "").strip() if isinstance(name, str) else name
        if not isinstance(name, str) or not name:
            raise _err("name", "name: required, a non-empty string", "required")
        if len(name) > 100:
            raise _err("name", "name: at most 100 characters", "max_length")
        api_key.name = name
        fields.append("name")
    if permissions is not _UNSET:
        api_key.permissions = _clean_permissions(permissions)
        fields.append("permissions")
    if expires_at is not _UNSET:
        if expires_at is not None and expires_at <= timezone.now():
            raise _err("expiresAt", "expiresAt: must be in the future", "past")
        api_key.expires_at = expires_at
        fields.append("expires_at")
    if is_active is not _UNSET:
        if not isinstance(is_active, bool):
            raise _err("isActive", "isActive: must be true or false", "invalid")
        if is_active != (api_key.revoked_at is None):
            api_key.revoked_at = None if is_active else timezone.now()
            fields.append("revoked_at")
    if fields:
        api_key.save(update_fields=fields)
    return api_key


def api_key_revoke(*, api_key: ApiKey) -> ApiKey:
    """Revoke ``api_key`` now (idempotent: a second revoke keeps the first time)."""
    now = timezone.now()
    ApiKey.objects.filter(pk=api_key.pk, revoked_at__isnull=True).update(revoked_at=now)
    api_key.refresh_from_db(fields=["revoked_at"])
    return api_key


def api_key_authenticate(raw: str | None) -> ApiKey | None:
    """The usable key (owner loaded) for the raw ``X-API-Key`` value, or ``None``.

    ``None`` for a malformed, unknown, revoked or expired key, or an inactive owner. Records
    ``last_used_at`` at most once per ``API_KEY_LAST_USED_RESOLUTION_S`` seconds per key, with a
    conditional UPDATE, so the usual request costs one indexed SELECT and no write.
    """
    if not isinstance(raw, str) or not raw.startswith(API_KEY_MARK):
        return None
    prefix = raw[len(API_KEY_MARK) : len(API_KEY_MARK) + _PREFIX_LEN]
    if len(prefix) != _PREFIX_LEN or raw[len(API_KEY_MARK) + _PREFIX_LEN :][:1] != "_":
        return None
    row = ApiKey.objects.select_related("owner").filter(prefix=prefix).first()
    if row is None or not hmac.compare_digest(row.key_hash, _key_hash(raw)):
        return None
    now = timezone.now()
    if not row.is_usable(now=now) or not row.owner.is_active:
        return None
    stale = now - timedelta(seconds=settings.API_KEY_LAST_USED_RESOLUTION_S)
    if row.last_used_at is None or row.last_used_at <= stale:
        ApiKey.objects.filter(pk=row.pk).filter(
            Q(last_used_at__isnull=True) | Q(last_used_at__lte=stale)
        ).update(last_used_at=now)
        row.last_used_at = now
    return row


def user_for_api_key(raw: str | None):
    """The active user an ``X-API-Key`` value authenticates, or ``None`` (for the websocket consumer;
    synchronous: wrap it in ``database_sync_to_async`` there)."""
    row = api_key_authenticate(raw)
    return row.owner if row is not None else None
