"""DRF authentication classes, in settings order: Bearer JWT, then ``X-API-Key``, then the session.

Invalid credentials are a 401 in the API's ``{message, errors}`` shape; missing ones fall through
to the next class (and finally to the permission check's 401).
"""

from __future__ import annotations

from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication
from rest_framework_simplejwt.authentication import JWTAuthentication
from rest_framework_simplejwt.exceptions import InvalidToken

from . import services

API_KEY_HEADER = "X-API-Key"


def _failed(message: str, field: str, reasons: list[str]) -> exceptions.AuthenticationFailed:
    return exceptions.AuthenticationFailed({"message": message, "errors": {field: reasons}})


class BearerJWTAuthentication(JWTAuthentication):
    """``Authorization: Bearer <access JWT>`` (simplejwt). A garbage, expired or wrongly typed token
    is a 401 ``{"message": "Invalid or expired access token", "errors": {"token": [reason]}}``."""

    def authenticate(self, request):
        try:
            return super().authenticate(request)
        except InvalidToken as exc:
            detail = exc.detail if isinstance(exc.detail, dict) else {}
            reasons = [str(m.get("message")) for m in detail.get("messages", []) if isinstance(m, dict)]
            if not reasons:
                reasons = [str(detail.get("detail", exc.detail))]
            raise _failed("Invalid or expired access token", "token", reasons) from None


class ApiKeyAuthentication(BaseAuthentication):
    """``X-API-Key: jsk_<prefix>_<secret>``: the key's owner; ``request.auth`` is the ``ApiKey`` row.

    An unknown, malformed, revoked or expired key is a 401 naming the header.
    """

    def authenticate(self, request):
        raw = request.META.get("HTTP_X_API_KEY")
        if raw is None:
            return None
        key = services.api_key_authenticate(raw.strip())
        if key is None:
            raise _failed(
                "Invalid, expired or revoked API key",
                API_KEY_HEADER,
                ["X-API-Key: invalid, expired or revoked"],
            )
        return key.owner, key

    def authenticate_header(self, request):
        return 'ApiKey header="X-API-Key"'
