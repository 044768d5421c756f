"""One error shape for the whole API: ``{"message": str, "errors": {field: [str, ...]}}``."""

import logging

from django.core.exceptions import PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

logger = logging.getLogger(__name__)


def _flatten(detail) -> dict[str, list[str]]:
    if isinstance(detail, dict):
        out: dict[str, list[str]] = {}
        for key, value in detail.items():
            if isinstance(value, dict):
                for sub, msgs in _flatten(value).items():
                    out[f"{key}.{sub}" if sub != "non_field_errors" else key] = msgs
            elif isinstance(value, list) and value and isinstance(value[0], dict):
                for index, item in enumerate(value):
                    for sub, msgs in _flatten(item).items():
                        out[f"{key}[{index}].{sub}"] = msgs
            else:
                out[key] = [str(v) for v in (value if isinstance(value, list) else [value])]
        return out
    if isinstance(detail, list):
        return {"non_field_errors": [str(v) for v in detail]}
    return {}


def _message(detail, errors: dict[str, list[str]], default: str) -> str:
    if isinstance(detail, str):
        return detail
    if errors:
        field, msgs = next(iter(errors.items()))
        prefix = "" if field == "non_field_errors" or msgs[0].startswith(f"{field}:") else f"{field}: "
        return prefix + msgs[0]
    return default


def api_exception_handler(exc, context):
    """DRF exception handler producing ``{"message", "errors"}`` for every error status.

    Django's ``ValidationError`` (raised by services) becomes a 400 with its message dict;
    anything unexpected is logged and answered as a 500 JSON body without a traceback.
    """
    if isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        exc = exceptions.ValidationError(detail)
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()

    response = exception_handler(exc, context)
    if response is None:
        logger.exception("unhandled API error", exc_info=exc)
        return Response(
            {"message": "Internal server error", "errors": {}}, status=status.HTTP_500_INTERNAL_SERVER_ERROR
        )
    detail = exc.detail if isinstance(exc, exceptions.APIException) else response.data
    errors = _flatten(detail) if not isinstance(detail, str) else {}
    if isinstance(detail, dict) and set(detail) == {"message", "errors"}:
        response.data = detail
        return response
    response.data = {"message": _message(detail, errors, "Request failed"), "errors": errors}
    return response


class Conflict(exceptions.APIException):
    """409: the request conflicts with what is stored (duplicate name, wrong state)."""

    status_code = status.HTTP_409_CONFLICT
    default_detail = "Conflict."
    default_code = "conflict"


class PayloadTooLarge(exceptions.APIException):
    """413: the submission is larger than the configured limit."""

    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "Payload too large."
    default_code = "too_large"
