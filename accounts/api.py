"""Auth endpoints with the shapes of the system we port (``accessToken``, ``refreshToken``, ``newPassword``).

POST /auth/register, /auth/login, /auth/refresh-token, /auth/logout, /auth/request-password-reset,
/auth/reset-password; GET /auth/me; GET/POST /auth/api-keys, DELETE /auth/api-keys/{id}.
Thin: parse with a serializer, call ``accounts.services``, shape the answer.
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import exceptions, serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from config.exceptions import Conflict
from config.openapi.shapes import MessageSerializer as _MessageSerializer
from config.serializers import StrictCharField

from . import selectors, services
from .throttling import AuthRateThrottle

User = get_user_model()

# Kept importable from here (tests and other apps used these names before services existed).
token_pair = services.token_pair


def user_body(user) -> dict:
    """``{id, username, email}``."""
    return {"id": user.pk, "username": user.username, "email": user.email}


def _iso(value) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def api_key_body(row) -> dict:
    """``{id, name, prefix, createdAt, expiresAt, lastUsedAt}`` (ISO 8601 UTC); never the secret or hash."""
    return {
        "id": row.pk,
        "name": row.name,
        "prefix": f"{services.API_KEY_MARK}{row.prefix}",
        "createdAt": _iso(row.created_at),
        "expiresAt": _iso(row.expires_at),
        "lastUsedAt": _iso(row.last_used_at),
    }


class Unauthorized(exceptions.APIException):
    """401 raised by endpoints that take their credential in the body (DRF would otherwise answer 403)."""

    status_code = status.HTTP_401_UNAUTHORIZED
    default_code = "not_authenticated"

    def __init__(self, message: str, errors: dict | None = None):
        super().__init__({"message": message, "errors": errors or {}})


_TokenPairSerializer = inline_serializer(
    "TokenPair", {"accessToken": serializers.CharField(), "refreshToken": serializers.CharField()}
)
_UserSerializer = inline_serializer(
    "User",
    {"id": serializers.IntegerField(), "username": serializers.CharField(), "email": serializers.CharField()},
)


class _PublicView(APIView):
    """Endpoints used without credentials: no authentication, throttled per client address."""

    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_classes = [AuthRateThrottle]


class RegisterSerializer(serializers.Serializer):
    username = StrictCharField(max_length=150)
    password = StrictCharField(max_length=128, trim_whitespace=False)
    email = serializers.EmailField(required=False, allow_blank=True, default="")


class RegisterView(_PublicView):
    """POST /auth/register ``{username, password, email?}``
    → 201 ``{message, user: {id, username, email}, accessToken, refreshToken}``.

    409 if the username exists (case-insensitive); 400 naming the field for bad input (Django's username
    rule and password validators apply); 429 when the address exceeds ``THROTTLE_REGISTER``.
    """

    throttle_scope = "register"

    @extend_schema(
        request=RegisterSerializer,
        responses={
            201: inline_serializer(
                "Registered",
                {
                    "message": serializers.CharField(),
                    "user": _UserSerializer,
                    "accessToken": serializers.CharField(),
                    "refreshToken": serializers.CharField(),
                },
            )
        },
    )
    def post(self, request):
        ser = RegisterSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        try:
            user = services.user_register(**ser.validated_data)
        except services.UsernameTaken:
            raise Conflict("username: a user with that username already exists") from None
        return Response(
            {"message": "User registered successfully", "user": user_body(user), **services.token_pair(user)},
            status=status.HTTP_201_CREATED,
        )


class InvalidCredentials(exceptions.APIException):
    """401 for a wrong username or password (the endpoint takes no credentials, so DRF would say 403)."""

    status_code = status.HTTP_401_UNAUTHORIZED
    default_detail = "Invalid username or password"
    default_code = "invalid_credentials"


class LoginSerializer(serializers.Serializer):
    username = StrictCharField(max_length=150)
    password = StrictCharField(max_length=128, trim_whitespace=False)


class LoginView(_PublicView):
    """POST /auth/login ``{username, password}`` → 200 ``{message, accessToken, refreshToken}``; 401 for bad
    credentials; 429 when the address exceeds ``THROTTLE_LOGIN``."""

    throttle_scope = "login"

    @extend_schema(request=LoginSerializer, responses={200: _TokenPairSerializer})
    def post(self, request):
        ser = LoginSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        try:
            user = services.user_login(request=request._request, **ser.validated_data)
        except services.InvalidCredentials:
            raise InvalidCredentials() from None
        return Response({"message": "Login successful", **services.token_pair(user)})


class RefreshTokenSerializer(serializers.Serializer):
    refreshToken = StrictCharField()  # noqa: N815 (the contract's field name)


def _invalid_refresh(exc: services.TokenInvalid) -> Unauthorized:
    return Unauthorized("Invalid or expired refresh token", {"refreshToken": [f"refreshToken: {exc}"]})


class RefreshTokenView(APIView):
    """POST /auth/refresh-token ``{refreshToken}`` → 200 ``{accessToken, refreshToken}``.

    Rotation: the given refresh token is blacklisted and a new one returned. 401 for an expired,
    blacklisted, malformed or access (not refresh) token, or a deleted/inactive user.
    """

    permission_classes = [AllowAny]
    authentication_classes: list = []

    @extend_schema(request=RefreshTokenSerializer, responses={200: _TokenPairSerializer})
    def post(self, request):
        ser = RefreshTokenSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        try:
            return Response(services.token_refresh(refresh_token=ser.validated_data["refreshToken"]))
        except services.TokenInvalid as exc:
            raise _invalid_refresh(exc) from None


class LogoutView(APIView):
    """POST /auth/logout ``{refreshToken}`` (authenticated) → 200 ``{message}``; that refresh token is
    blacklisted. 401 if it is not a valid refresh token of the caller. Access tokens already issued
    expire on their own (``JWT_ACCESS_MINUTES``)."""

    @extend_schema(request=RefreshTokenSerializer, responses={200: _MessageSerializer})
    def post(self, request):
        ser = RefreshTokenSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        try:
            services.token_revoke(refresh_token=ser.validated_data["refreshToken"], user=request.user)
        except services.TokenInvalid as exc:
            raise _invalid_refresh(exc) from None
        return Response({"message": "Logged out successfully"})


class PasswordResetRequestSerializer(serializers.Serializer):
    email = StrictCharField(max_length=254)


RESET_REQUESTED = "If an account with that email exists, a password reset email has been sent"


class PasswordResetRequestView(_PublicView):
    """POST /auth/request-password-reset ``{email}`` → 200 ``{message}``, the same body whether or not an
    account has that email. The mail carries a token ``<uidb64>.<token>`` for /auth/reset-password and a
    link to the reset page. 400 only for a malformed address; 429 beyond ``THROTTLE_PASSWORD_RESET``."""

    throttle_scope = "password_reset"

    @extend_schema(request=PasswordResetRequestSerializer, responses={200: _MessageSerializer})
    def post(self, request):
        ser = PasswordResetRequestSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        services.password_reset_request(
            email=ser.validated_data["email"], domain=request.get_host(), use_https=request.is_secure()
        )
        return Response({"message": RESET_REQUESTED})


class PasswordResetConfirmSerializer(serializers.Serializer):
    token = StrictCharField(max_length=300)
    newPassword = StrictCharField(max_length=128, trim_whitespace=False)  # noqa: N815 (contract name)


class PasswordResetConfirmView(_PublicView):
    """POST /auth/reset-password ``{token, newPassword}`` → 200 ``{message}``.

    400 ``token`` for an invalid, used or expired token (``PASSWORD_RESET_TIMEOUT`` seconds), 400
    ``newPassword`` for Django's password validators; 429 beyond ``THROTTLE_PASSWORD_RESET_CONFIRM``.
    Every refresh token and API key of the account is revoked.
    """

    throttle_scope = "password_reset_confirm"

    @extend_schema(request=PasswordResetConfirmSerializer, responses={200: _MessageSerializer})
    def post(self, request):
        ser = PasswordResetConfirmSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        services.password_reset_confirm(
            token=ser.validated_data["token"], new_password=ser.validated_data["newPassword"]
        )
        return Response({"message": "Password has been reset successfully"})


class MeView(APIView):
    """GET /auth/me → ``{id, username, email}`` of the caller."""

    @extend_schema(responses={200: _UserSerializer})
    def get(self, request):
        return Response(user_body(request.user))


class ApiKeyCreateSerializer(serializers.Serializer):
    name = StrictCharField(max_length=100)
    expiresAt = serializers.DateTimeField(required=False, allow_null=True, default=None)  # noqa: N815


def _api_key_fields() -> dict:
    return {
        "id": serializers.IntegerField(),
        "name": serializers.CharField(),
        "prefix": serializers.CharField(),
        "createdAt": serializers.DateTimeField(),
        "expiresAt": serializers.DateTimeField(allow_null=True),
        "lastUsedAt": serializers.DateTimeField(allow_null=True),
    }


class ApiKeyListView(APIView):
    """GET /auth/api-keys → ``{apiKeys: [...]}`` (the caller's unrevoked keys, newest first; no secrets).
    POST ``{name, expiresAt?}`` → 201 the key plus ``key``: the secret, shown this once."""

    @extend_schema(
        responses={
            200: inline_serializer(
                "ApiKeyList", {"apiKeys": inline_serializer("ApiKey", _api_key_fields(), many=True)}
            )
        }
    )
    def get(self, request):
        return Response({"apiKeys": [api_key_body(k) for k in selectors.api_key_list(user=request.user)]})

    @extend_schema(
        request=ApiKeyCreateSerializer,
        responses={
            201: inline_serializer("ApiKeyCreated", {**_api_key_fields(), "key": serializers.CharField()})
        },
    )
    def post(self, request):
        ser = ApiKeyCreateSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        row, raw = services.api_key_create(
            owner=request.user, name=ser.validated_data["name"], expires_at=ser.validated_data["expiresAt"]
        )
        return Response({**api_key_body(row), "key": raw}, status=status.HTTP_201_CREATED)


class ApiKeyDetailView(APIView):
    """DELETE /auth/api-keys/{id} → 200 ``{message}``: the key stops working at once. 404 if it is not the
    caller's or already revoked."""

    @extend_schema(responses={200: _MessageSerializer})
    def delete(self, request, key_id: str):
        services.api_key_revoke(api_key=selectors.api_key_get(user=request.user, key_id=key_id))
        return Response({"message": "API key revoked"})
