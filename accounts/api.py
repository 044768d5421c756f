"""Auth and API-key endpoints with the shapes of the system we port (``accessToken``, ``refreshToken``,
``newPassword``, ``webhookUrl``, ``apiKeys``). Thin: parse with a serializer, call ``accounts.services``,
answer with a response serializer (the one declaration of each shape; the OpenAPI spec reads it).

``/auth/*``: register, login, refresh-token, logout, request-password-reset, reset-password, me,
protected, validate-api-key, api-keys. The original's root routes (``/register``, ``/login`` ...) and
``/api-keys`` are the same views (``config.urls``).
"""

from __future__ import annotations

from django.contrib.auth import get_user_model
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import exceptions, serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from config.exceptions import Conflict
from config.openapi.schema import errors
from config.serializers import MessageSerializer, StrictCharField, UtcDateTimeField

from . import selectors, services
from .authentication import API_KEY_HEADER
from .throttling import AuthRateThrottle

User = get_user_model()

# Kept importable from here (tests and other apps used these names before services existed).
token_pair = services.token_pair


class Unauthorized(exceptions.APIException):
    """401 raised by endpoints that take their credential in the body (DRF would otherwise answer 403)."""

    status_code = status.HTTP_401_UNAUTHORIZED
    default_code = "not_authenticated"

    def __init__(self, message: str, errors: dict | None = None):
        super().__init__({"message": message, "errors": errors or {}})


class _PublicView(APIView):
    """Endpoints used without credentials: no authentication, throttled per client address."""

    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_classes = [AuthRateThrottle]


# --- shapes ---------------------------------------------------------------------------------------------


class UserSerializer(serializers.Serializer):
    """``{id, username, email}``: the user in the register answer (plus ``webhookUrl``, see below)."""

    id = serializers.IntegerField(source="pk")
    username = serializers.CharField()
    email = serializers.CharField(allow_blank=True)

    class Meta:
        ref_name = "User"


class MeSerializer(UserSerializer):
    """``{id, username, email, createdAt, updatedAt}`` (GET /auth/me, as the original). ``updatedAt``
    is the join time: we keep no row-update time for users."""

    createdAt = UtcDateTimeField(source="date_joined")  # noqa: N815
    updatedAt = UtcDateTimeField(source="date_joined")  # noqa: N815

    class Meta:
        ref_name = "Me"


class RegisteredUserSerializer(UserSerializer):
    """The new user, with the URL of its legacy webhook (``webhookUrl`` of the registration) or null."""

    webhookUrl = serializers.SerializerMethodField()  # noqa: N815

    class Meta:
        ref_name = "RegisteredUser"

    @extend_schema_field({"type": "string", "nullable": True})
    def get_webhookUrl(self, user) -> str | None:  # noqa: N802
        hook = user.webhooks.filter(legacy=True).first()
        return hook.url if hook is not None else None


class RegisterSerializer(serializers.Serializer):
    """``{username, password, email?, webhookUrl?}``."""

    username = StrictCharField(max_length=150)
    password = StrictCharField(max_length=128, trim_whitespace=False)
    email = serializers.EmailField(required=False, allow_blank=True, allow_null=True)
    webhookUrl = StrictCharField(  # noqa: N815
        required=False,
        allow_blank=True,
        allow_null=True,
        default=None,
        help_text="Legacy: receives your completed events (a webhook, signed and retried).",
    )

    class Meta:
        ref_name = "RegisterRequest"


class RegisteredSerializer(serializers.Serializer):
    message = serializers.CharField()
    user = RegisteredUserSerializer()
    accessToken = serializers.CharField()  # noqa: N815
    refreshToken = serializers.CharField()  # noqa: N815

    class Meta:
        ref_name = "Registered"


class LoginSerializer(serializers.Serializer):
    username = StrictCharField(max_length=150)
    password = StrictCharField(max_length=128, trim_whitespace=False)

    class Meta:
        ref_name = "LoginRequest"


class TokensSerializer(serializers.Serializer):
    """``{message, accessToken, refreshToken}`` of login; refresh answers without ``message`` (and
    without ``refreshToken`` when ``JWT_ROTATE_REFRESH_TOKENS`` is off)."""

    message = serializers.CharField(required=False)
    accessToken = serializers.CharField()  # noqa: N815
    refreshToken = serializers.CharField(required=False, help_text="A rotated refresh token.")  # noqa: N815

    class Meta:
        ref_name = "Tokens"


class RefreshTokenSerializer(serializers.Serializer):
    refreshToken = StrictCharField()  # noqa: N815 (the contract's field name)

    class Meta:
        ref_name = "RefreshRequest"


class LogoutSerializer(serializers.Serializer):
    refreshToken = StrictCharField(required=False)  # noqa: N815

    class Meta:
        ref_name = "LogoutRequest"


class PasswordResetRequestSerializer(serializers.Serializer):
    email = StrictCharField(max_length=254)

    class Meta:
        ref_name = "PasswordResetRequest"


class PasswordResetConfirmSerializer(serializers.Serializer):
    """``{token, newPassword}``; the original's ``resetToken`` is accepted for ``token``."""

    token = StrictCharField(max_length=300, help_text="The token from the mail (or send resetToken).")
    resetToken = StrictCharField(  # noqa: N815 (the original's name)
        max_length=300, required=False, help_text="The original's name for token."
    )
    newPassword = StrictCharField(max_length=128, trim_whitespace=False)  # noqa: N815 (contract name)

    class Meta:
        ref_name = "PasswordReset"

    def to_internal_value(self, data):
        if isinstance(data, dict) and "token" not in data and "resetToken" in data:
            data = {**data, "token": data["resetToken"]}
        return super().to_internal_value(data)


class ProtectedUserSerializer(serializers.Serializer):
    userId = serializers.IntegerField(source="pk")  # noqa: N815
    username = serializers.CharField()

    class Meta:
        ref_name = "ProtectedUser"


class ProtectedSerializer(serializers.Serializer):
    message = serializers.CharField()
    user = ProtectedUserSerializer()

    class Meta:
        ref_name = "Protected"


class ApiKeySerializer(serializers.Serializer):
    """An API key without its secret: the original's ``{id, userId, name, prefix, permissions, lastUsed,
    createdAt, expiresAt, isActive}`` plus our ``lastUsedAt`` (= ``lastUsed``). ISO 8601 UTC times."""

    id = serializers.IntegerField(source="pk")
    userId = serializers.IntegerField(source="owner_id")  # noqa: N815
    name = serializers.CharField()
    prefix = serializers.SerializerMethodField(help_text="The key's public start (jsk_ + 16 hex).")
    permissions = serializers.ListField(
        child=serializers.CharField(), help_text="Stored labels, not enforced."
    )
    lastUsed = UtcDateTimeField(source="last_used_at", allow_null=True)  # noqa: N815
    lastUsedAt = UtcDateTimeField(source="last_used_at", allow_null=True)  # noqa: N815
    createdAt = UtcDateTimeField(source="created_at")  # noqa: N815
    expiresAt = UtcDateTimeField(source="expires_at", allow_null=True)  # noqa: N815
    isActive = serializers.SerializerMethodField(help_text="false once revoked.")  # noqa: N815

    class Meta:
        ref_name = "ApiKey"

    def get_prefix(self, row) -> str:
        return f"{services.API_KEY_MARK}{row.prefix}"

    def get_isActive(self, row) -> bool:  # noqa: N802
        return row.revoked_at is None


class ApiKeyWithSecretSerializer(ApiKeySerializer):
    key = serializers.CharField(help_text="The whole key: shown only in this answer.")

    class Meta:
        ref_name = "ApiKeyWithSecret"


class ApiKeyListSerializer(serializers.Serializer):
    message = serializers.CharField()
    apiKeys = ApiKeySerializer(many=True)  # noqa: N815

    class Meta:
        ref_name = "ApiKeyList"


class ApiKeyEnvelopeSerializer(serializers.Serializer):
    message = serializers.CharField()
    apiKey = ApiKeySerializer()  # noqa: N815

    class Meta:
        ref_name = "ApiKeyEnvelope"


class ApiKeyCreatedSerializer(serializers.Serializer):
    message = serializers.CharField()
    apiKey = ApiKeyWithSecretSerializer()  # noqa: N815

    class Meta:
        ref_name = "ApiKeyCreated"


class ApiKeyCreateSerializer(serializers.Serializer):
    """``{name, permissions?, expiresAt?}``."""

    name = StrictCharField(max_length=100)
    permissions = serializers.JSONField(required=False, default=None, help_text="An array of labels.")
    expiresAt = serializers.DateTimeField(required=False, allow_null=True, default=None)  # noqa: N815

    class Meta:
        ref_name = "ApiKeyCreate"


class ApiKeyUpdateSerializer(serializers.Serializer):
    """Any of ``{name, permissions, expiresAt (null: never), isActive}``."""

    name = StrictCharField(max_length=100, required=False)
    permissions = serializers.JSONField(required=False, help_text="An array of labels.")
    expiresAt = serializers.DateTimeField(required=False, allow_null=True)  # noqa: N815
    isActive = serializers.BooleanField(required=False)  # noqa: N815

    class Meta:
        ref_name = "ApiKeyUpdate"


class ValidatedApiKeySerializer(serializers.Serializer):
    user = MeSerializer()
    permissions = serializers.ListField(child=serializers.CharField())

    class Meta:
        ref_name = "ValidatedApiKey"


# --- views ----------------------------------------------------------------------------------------------


class RegisterView(_PublicView):
    """POST /auth/register (and /register) ``{username, password, email?, webhookUrl?}``
    → 201 ``{message, user: {id, username, email, webhookUrl}, accessToken, refreshToken}``.

    409 if the username exists (case-insensitive); 400 naming the field for bad input (Django's username
    rule and password validators apply; ``webhookUrl`` follows the webhooks' URL rules); 429 when the
    address exceeds ``THROTTLE_REGISTER``.
    """

    throttle_scope = "register"

    @extend_schema(
        summary="Create an account",
        request=RegisterSerializer,
        responses={201: RegisteredSerializer, **errors(409)},
        tags=["auth"],
    )
    def post(self, request):
        ser = RegisterSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        v = ser.validated_data
        try:
            user = services.user_register(
                username=v["username"],
                password=v["password"],
                email=v.get("email") or "",
                webhook_url=v["webhookUrl"] or None,
            )
        except services.UsernameTaken:
            raise Conflict("username: a user with that username already exists") from None
        body = {"message": "User registered successfully", "user": user, **services.token_pair(user)}
        return Response(RegisteredSerializer(body).data, status=status.HTTP_201_CREATED)


class InvalidCredentials(exceptions.APIException):
    """401 for a wrong username or password (the endpoint takes no credentials, so DRF would say 403)."""

    status_code = status.HTTP_401_UNAUTHORIZED
    default_detail = "Invalid username or password"
    default_code = "invalid_credentials"


class LoginView(_PublicView):
    """POST /auth/login (and /login) ``{username, password}`` → 200 ``{message, accessToken,
    refreshToken}``; 401 for bad credentials; 429 when the address exceeds ``THROTTLE_LOGIN``."""

    throttle_scope = "login"

    @extend_schema(
        summary="Log in for a token pair",
        request=LoginSerializer,
        responses={200: TokensSerializer, **errors(401)},
        tags=["auth"],
    )
    def post(self, request):
        ser = LoginSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        try:
            user = services.user_login(request=request._request, **ser.validated_data)
        except services.InvalidCredentials:
            raise InvalidCredentials() from None
        return Response(TokensSerializer({"message": "Login successful", **services.token_pair(user)}).data)


def _invalid_refresh(exc: services.TokenInvalid) -> Unauthorized:
    return Unauthorized("Invalid or expired refresh token", {"refreshToken": [f"refreshToken: {exc}"]})


class RefreshTokenView(APIView):
    """POST /auth/refresh-token (and /refresh-token) ``{refreshToken}`` → 200 ``{accessToken,
    refreshToken}``.

    Rotation (``JWT_ROTATE_REFRESH_TOKENS``, default on): the given refresh token is blacklisted and a
    new one returned; off: ``{accessToken}`` only, as the original. 401 for an expired, blacklisted,
    malformed or access (not refresh) token, or a deleted/inactive user.
    """

    permission_classes = [AllowAny]
    authentication_classes: list = []

    @extend_schema(
        summary="Exchange a refresh token for a new access token",
        request=RefreshTokenSerializer,
        responses={200: TokensSerializer, **errors(401)},
        tags=["auth"],
    )
    def post(self, request):
        ser = RefreshTokenSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        try:
            tokens = services.token_refresh(refresh_token=ser.validated_data["refreshToken"])
        except services.TokenInvalid as exc:
            raise _invalid_refresh(exc) from None
        return Response(TokensSerializer(tokens).data)


class LogoutView(APIView):
    """POST /auth/logout (and /logout), authenticated, ``{refreshToken}`` or no body → 200 ``{message}``.

    With a body that refresh token is blacklisted (401 if it is not a valid refresh token of the
    caller); without one, every refresh token of the caller is (the original's logout cleared the
    user's one refresh token). Access tokens already issued expire on their own (``JWT_ACCESS_MINUTES``).
    """

    @extend_schema(
        summary="Revoke your refresh token(s)",
        request=LogoutSerializer,
        responses={200: MessageSerializer},
        tags=["auth"],
    )
    def post(self, request):
        ser = LogoutSerializer(data=request.data)  # no body: {}; anything but an object: a 400
        ser.is_valid(raise_exception=True)
        raw = ser.validated_data.get("refreshToken")
        try:
            if raw:
                services.token_revoke(refresh_token=raw, user=request.user)
            else:
                services.tokens_revoke_all(user=request.user)
        except services.TokenInvalid as exc:
            raise _invalid_refresh(exc) from None
        return Response({"message": "Logout successful"})


RESET_REQUESTED = "If an account with that email exists, a password reset email has been sent"


class PasswordResetRequestView(_PublicView):
    """POST /auth/request-password-reset (and /request-password-reset) ``{email}`` → 200 ``{message}``,
    the same body whether or not an account has that email. The mail carries a token
    ``<uidb64>.<token>`` for /auth/reset-password and a link to the reset page (the original returned
    the token in the answer: deliberately not). 400 only for a malformed address; 429 beyond
    ``THROTTLE_PASSWORD_RESET``."""

    throttle_scope = "password_reset"

    @extend_schema(
        summary="Mail a password reset token",
        request=PasswordResetRequestSerializer,
        responses={200: MessageSerializer},
        tags=["auth"],
    )
    def post(self, request):
        ser = PasswordResetRequestSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        services.password_reset_request(
            email=ser.validated_data["email"], domain=request.get_host(), use_https=request.is_secure()
        )
        return Response({"message": RESET_REQUESTED})


class PasswordResetConfirmView(_PublicView):
    """POST /auth/reset-password (and /reset-password) ``{token | resetToken, newPassword}`` → 200
    ``{message}``.

    400 ``token`` for an invalid, used or expired token (``PASSWORD_RESET_TIMEOUT`` seconds), 400
    ``newPassword`` for Django's password validators; 429 beyond ``THROTTLE_PASSWORD_RESET_CONFIRM``.
    Every refresh token and API key of the account is revoked.
    """

    throttle_scope = "password_reset_confirm"

    @extend_schema(
        summary="Set a new password with a reset token",
        request=PasswordResetConfirmSerializer,
        responses={200: MessageSerializer},
        tags=["auth"],
    )
    def post(self, request):
        ser = PasswordResetConfirmSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        services.password_reset_confirm(
            token=ser.validated_data["token"], new_password=ser.validated_data["newPassword"]
        )
        return Response({"message": "Password reset successful"})


class MeView(APIView):
    """GET /auth/me → ``{id, username, email, createdAt, updatedAt}`` of the caller."""

    @extend_schema(summary="You", responses={200: MeSerializer}, tags=["auth"])
    def get(self, request):
        return Response(MeSerializer(request.user).data)


class ProtectedView(APIView):
    """GET /auth/protected → ``{message, user: {userId, username}}`` (the original's sample route)."""

    @extend_schema(summary="Check your credentials", responses={200: ProtectedSerializer}, tags=["auth"])
    def get(self, request):
        return Response(
            ProtectedSerializer({"message": "This is a protected route", "user": request.user}).data
        )


class ValidateApiKeyView(APIView):
    """GET /auth/validate-api-key with ``X-API-Key`` → 200 ``{user: {id, username, email, createdAt,
    updatedAt}, permissions}`` (the React client's API-key login). 400 without the header; 401 for an
    unknown, malformed, revoked or expired key."""

    permission_classes = [AllowAny]
    authentication_classes: list = []

    @extend_schema(
        summary="Check an API key and name its owner",
        parameters=[
            # an empty header is "no key" (400), so the document asks for at least one character
            OpenApiParameter(
                API_KEY_HEADER, {"type": "string", "minLength": 1}, OpenApiParameter.HEADER, required=True
            )
        ],
        responses={200: ValidatedApiKeySerializer, **errors(400, 401)},
        tags=["auth"],
    )
    def get(self, request):
        raw = request.META.get("HTTP_X_API_KEY")
        if not raw:
            raise exceptions.ValidationError({API_KEY_HEADER: [f"{API_KEY_HEADER}: API key is required"]})
        row = services.api_key_authenticate(raw.strip())
        if row is None:
            raise Unauthorized(
                "Invalid API key", {API_KEY_HEADER: [f"{API_KEY_HEADER}: invalid, expired or revoked"]}
            )
        return Response(ValidatedApiKeySerializer({"user": row.owner, "permissions": row.permissions}).data)


class ApiKeyListView(APIView):
    """GET /api-keys (and /auth/api-keys) → ``{message, apiKeys}``: all the caller's keys, revoked ones
    with ``isActive: false``, newest first, never a secret. POST ``{name, permissions?, expiresAt?}``
    → 201 ``{message, apiKey: {..., key}}``: the secret ``key``, shown this once."""

    @extend_schema(summary="Your API keys", responses={200: ApiKeyListSerializer}, tags=["auth"])
    def get(self, request):
        keys = selectors.api_key_list(user=request.user, include_revoked=True)
        return Response(
            ApiKeyListSerializer({"message": "API keys retrieved successfully", "apiKeys": keys}).data
        )

    def _create(self, request):
        ser = ApiKeyCreateSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        v = ser.validated_data
        row, raw = services.api_key_create(
            owner=request.user, name=v["name"], expires_at=v["expiresAt"], permissions=v["permissions"]
        )
        row.key = raw
        return row

    @extend_schema(
        summary="Create an API key (its secret is in this answer only)",
        request=ApiKeyCreateSerializer,
        responses={201: ApiKeyCreatedSerializer},
        tags=["auth"],
    )
    def post(self, request):
        body = {"message": "API key created successfully", "apiKey": self._create(request)}
        return Response(ApiKeyCreatedSerializer(body).data, status=status.HTTP_201_CREATED)


class AuthApiKeyListView(ApiKeyListView):
    """GET /auth/api-keys as /api-keys; POST answers the key flat, ``{..., key}`` (our first shape)."""

    @extend_schema(
        summary="Create an API key (its secret is in this answer only)",
        request=ApiKeyCreateSerializer,
        responses={201: ApiKeyWithSecretSerializer},
        tags=["auth"],
    )
    def post(self, request):
        return Response(
            ApiKeyWithSecretSerializer(self._create(request)).data, status=status.HTTP_201_CREATED
        )


class ApiKeyDetailView(APIView):
    """``/api-keys/{id}`` (and ``/auth/api-keys/{id}``) of the caller's keys; another user's is a 404.

    GET → ``{message, apiKey}``; PUT any of ``{name, permissions, expiresAt, isActive}`` → ``{message,
    apiKey}`` (``isActive: true`` lifts a revocation, as the original allowed); DELETE → ``{message}``:
    revoked at once (idempotent).
    """

    def _get(self, request, key_id):
        return selectors.api_key_get(user=request.user, key_id=key_id, include_revoked=True)

    @extend_schema(summary="One of your API keys", responses={200: ApiKeyEnvelopeSerializer}, tags=["auth"])
    def get(self, request, key_id: str):
        row = self._get(request, key_id)
        return Response(
            ApiKeyEnvelopeSerializer({"message": "API key retrieved successfully", "apiKey": row}).data
        )

    @extend_schema(
        summary="Change an API key",
        request=ApiKeyUpdateSerializer,
        responses={200: ApiKeyEnvelopeSerializer},
        tags=["auth"],
    )
    def put(self, request, key_id: str):
        row = self._get(request, key_id)
        ser = ApiKeyUpdateSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        names = {
            "name": "name",
            "permissions": "permissions",
            "expiresAt": "expires_at",
            "isActive": "is_active",
        }
        changes = {names[k]: v for k, v in ser.validated_data.items()}
        row = services.api_key_update(api_key=row, **changes)
        return Response(
            ApiKeyEnvelopeSerializer({"message": "API key updated successfully", "apiKey": row}).data
        )

    @extend_schema(summary="Revoke an API key", responses={200: MessageSerializer}, tags=["auth"])
    def delete(self, request, key_id: str):
        services.api_key_revoke(api_key=self._get(request, key_id))
        return Response({"message": "API key revoked successfully"})
