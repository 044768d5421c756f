"""One error shape for the whole API: ``{"message": str, "errors": {field: [str, ...]}}``.

Two entry points share :func:`error_body`:

- :func:`api_exception_handler`, DRF's ``EXCEPTION_HANDLER``: every error a DRF view raises
  (validation, parse errors, 401/403/404/405/415, 429 with ``Retry-After``, our ``Conflict`` and
  ``PayloadTooLarge``, the services' error family of ``config.errors``: conflicts and states 409, not
  found 404), and anything unexpected (logged with the request id, answered 500 without a traceback).
- Transient database errors (busy, locked, no connection free: ``config.dberrors``) are a 503 with
  ``Retry-After`` wherever they happen: DRF views (the handler), other views
  (``process_exception``), middleware (Django's ``got_request_exception`` marks the request and
  :class:`ApiErrorMiddleware` turns its 500 into the 503, also with ``DEBUG`` pages on).
- :class:`ApiErrorMiddleware`: what happens outside DRF views: a body declared larger than
  ``DATA_UPLOAD_MAX_MEMORY_SIZE`` (413 on every route, before any view), an unknown path or method (404/405,
  JSON even with ``DEBUG`` on, where Django would render its HTML debug page), an exception in a plain
  Django view (500 JSON), and NUL characters in the path or query (400: PostgreSQL cannot compare
  them, so they would otherwise end as a 500 from the database).
"""

import logging
import sys
from importlib import import_module

from django.conf import settings
from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.signals import got_request_exception
from django.http import Http404, JsonResponse
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler

from .dberrors import is_transient_database_error
from .errors import ConflictError

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
    if isinstance(exc, ConflictError):  # the services' error family (config/errors.py), StateError included
        exc = Conflict(str(exc))
    elif isinstance(exc, RequestDataTooBig):  # the middleware refuses these first; kept as a backstop
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        exc = PayloadTooLarge(f"request body: larger than the limit of {limit} bytes")
    elif isinstance(exc, DjangoValidationError):
        detail = exc.message_dict if hasattr(exc, "error_dict") else {"non_field_errors": exc.messages}
        exc = exceptions.ValidationError(detail)
    elif isinstance(exc, Http404):  # config.errors.NotFoundError included
        exc = exceptions.NotFound()
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()

    response = exception_handler(exc, context)
    if response is None and is_transient_database_error(exc):
        return database_busy_response(Response)
    if response is None:
        request = context.get("request")
        logger.error(
            "unhandled API error on %s %s",
            getattr(request, "method", "?"),
            getattr(request, "path", "?"),
            exc_info=exc,
        )
        return Response(server_error_body(), status=status.HTTP_500_INTERNAL_SERVER_ERROR)
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


DATABASE_BUSY_RETRY_AFTER_S = 1


def database_busy_response(response_class=JsonResponse):
    """503 with ``Retry-After`` for a transient database error (no connection free in the pool within
    ``DB_POOL_TIMEOUT_S``, "too many clients", SQLite's "database is locked"): the honest answer,
    logged as a warning, never a 500 (``config.dberrors``)."""
    logger.warning("database busy or unreachable; answered 503", exc_info=True)
    response = response_class(
        error_body("The database is busy or unreachable; retry shortly"), status=503
    )
    response["Retry-After"] = str(DATABASE_BUSY_RETRY_AFTER_S)
    return response


def error_body(message: str, errors: dict | None = None) -> dict:
    """``{"message": message, "errors": errors or {}}``."""
    return {"message": message, "errors": errors or {}}


def server_error_body() -> dict:
    """The 500 body: no traceback, but the request id under which the traceback was logged."""
    from .logs import request_id_var

    request_id = request_id_var.get()
    suffix = f" (request id {request_id})" if request_id else ""
    return error_body(f"Internal server error{suffix}")


_STATUS_MESSAGES = {404: "Not found", 405: "Method not allowed", 500: "Internal server error"}


def is_api_request(request) -> bool:
    """Whether ``request`` should only ever get JSON errors: an API path, or a client not asking for HTML
    on a path that is not one of the people's pages (which answer with HTML error pages).

    The prefixes are declared beside the routes: ``API_PATH_PREFIXES`` and ``PAGE_PATH_PREFIXES`` of
    the request's URLconf (``config.urls``)."""
    urls = import_module(getattr(request, "urlconf", None) or settings.ROOT_URLCONF)
    if request.path.startswith(tuple(getattr(urls, "API_PATH_PREFIXES", ()))):
        return True
    if request.path.startswith(tuple(getattr(urls, "PAGE_PATH_PREFIXES", ()))):
        return False
    return "text/html" not in request.headers.get("Accept", "")


def body_too_large_response(message: str) -> JsonResponse:
    """413 in the API's error shape (``request body: ...``)."""
    return JsonResponse(error_body(message), status=413)


def _body_too_large(request):
    """413 for a declared body over ``DATA_UPLOAD_MAX_MEMORY_SIZE``, on every route and before any view
    reads it (Django would raise ``RequestDataTooBig`` inside the view: a 500 from DRF, a 400 elsewhere).
    Chunked bodies are measured and given a length by ``config.bodies`` in front of Django."""
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    raw = request.META.get("CONTENT_LENGTH") or "0"
    if limit is None or not (raw.isascii() and raw.isdigit()):
        return None  # no body, or a malformed length the server itself refuses
    if len(raw) <= 18 and int(raw) <= limit:
        return None
    shown = raw if len(raw) <= 20 else raw[:20] + "..."
    return body_too_large_response(f"request body: {shown} bytes is larger than the limit of {limit} bytes")


class ApiErrorMiddleware:
    """JSON errors for what DRF's handler never sees (see the module docstring). Sync and async."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response):
        from asgiref.sync import iscoroutinefunction, markcoroutinefunction

        self.get_response = get_response
        self._async = iscoroutinefunction(get_response)
        if self._async:
            markcoroutinefunction(self)

    def __call__(self, request):
        if self._async:
            return self.__acall__(request)
        refused = self._refuse(request)
        return refused or self._shape(request, self.get_response(request))

    async def __acall__(self, request):
        refused = self._refuse(request)
        return refused or self._shape(request, await self.get_response(request))

    @staticmethod
    def _refuse(request):
        too_large = _body_too_large(request)
        if too_large:
            return too_large
        if (
            "\x00" in request.path
            or "\x00" in request.META.get("QUERY_STRING", "")
            or any("\x00" in key or any("\x00" in v for v in values) for key, values in request.GET.lists())
        ):
            return JsonResponse(
                error_body("NUL characters are not accepted in the path or query"), status=400
            )
        return None

    @staticmethod
    def _shape(request, response):
        if response.status_code == 500 and getattr(request, "_transient_database_error", False):
            return database_busy_response()
        if (
            response.status_code in _STATUS_MESSAGES
            and is_api_request(request)
            and not response.get("Content-Type", "").startswith("application/json")
        ):
            shaped = JsonResponse(
                server_error_body()
                if response.status_code == 500
                else error_body(_STATUS_MESSAGES[response.status_code]),
                status=response.status_code,
            )
            if response.has_header("Allow"):
                shaped["Allow"] = response["Allow"]
            return shaped
        return response

    def process_exception(self, request, exception):
        """An exception escaping a non-DRF view: log it (with the request id) and answer 500 JSON
        (503 with ``Retry-After`` for a transient database error, pages included)."""
        if is_transient_database_error(exception):
            return database_busy_response()
        if isinstance(exception, (Http404, PermissionDenied)) or not is_api_request(request):
            return None
        logger.error("unhandled error on %s %s", request.method, request.path, exc_info=exception)
        return JsonResponse(server_error_body(), status=500)


def _mark_transient_database_error(sender, request=None, **kwargs) -> None:
    """``got_request_exception``: remember on the request that it failed for a transient database error
    (Django sends this inside its ``except`` block), so :class:`ApiErrorMiddleware` answers 503."""
    error = sys.exc_info()[1]
    if request is not None and error is not None and is_transient_database_error(error):
        request._transient_database_error = True


got_request_exception.connect(_mark_transient_database_error, dispatch_uid="jobserver-transient-db-error")
