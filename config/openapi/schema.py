"""drf-spectacular glue: contract paths, error bodies on every operation, the API-key scheme.

Request and response shapes are not restated here: each view declares the serializers it parses and
answers with (``@extend_schema(request=..., responses=...)``) and drf-spectacular reads them.
"""

from __future__ import annotations

import re

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import (
    ResolvedComponent,
    build_basic_type,
    build_parameter_type,
    is_list_serializer,
)
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework.views import APIView

from config.serializers import ErrorSerializer

from .auth import API_KEY_SCHEME, API_KEY_SCHEME_NAME

PATH_PARAMETERS = {
    "jobId": "The job's id (``id`` / ``jobId`` of the job: your ``options.jobId``, "
    "``repeat:<schedulerId>:<fire time ms>`` for a schedule fire's job, or its number).",
    "schedulerId": "The schedule's id (``schedulerId``), yours or generated.",
    "queueName": "A declared named queue (``GET /queues``); an undeclared one is a 400.",
    "id": "The resource's id.",
    "flowId": "The flow's id (``flowId``).",
    "deliveryId": "The delivery's id.",
}

# Router paths (``/jobs/{pk}/``, trailing slash optional) → the contract's names: the first that matches.
_PATH_RENAMES = [
    (re.compile(r"^/jobs/schedule/\{[^}]+\}"), "/jobs/schedule/{schedulerId}"),
    # JobRunner v0.0.2's routes under a named queue (jobs.api.queue_views)
    (re.compile(r"^/jobs/\{queue_name\}/job/\{[^}]+\}"), "/jobs/{queueName}/job/{jobId}"),
    (re.compile(r"^/jobs/\{queue_name\}/schedule/\{[^}]+\}"), "/jobs/{queueName}/schedule/{schedulerId}"),
    (re.compile(r"^/jobs/\{queue_name\}"), "/jobs/{queueName}"),
    (re.compile(r"^/jobs/\{[^}]+\}"), "/jobs/{jobId}"),
    (re.compile(r"^/flows/\{[^}]+\}/jobs/\{[^}]+\}"), "/flows/{flowId}/jobs/{jobId}"),
    (re.compile(r"^/flows/\{[^}]+\}"), "/flows/{flowId}"),
    (re.compile(r"^/webhooks/\{[^}]+\}/deliveries/\{[^}]+\}"), "/webhooks/{id}/deliveries/{deliveryId}"),
    (re.compile(r"^/webhooks/\{[^}]+\}"), "/webhooks/{id}"),
    (re.compile(r"^/auth/api-keys/\{[^}]+\}"), "/auth/api-keys/{id}"),
    (re.compile(r"^/api-keys/\{[^}]+\}"), "/api-keys/{id}"),
]

ERROR_DESCRIPTIONS = {
    400: "Bad input: malformed JSON or a field breaking a rule (errors names each field).",
    401: "No credentials, or an invalid/expired token or API key.",
    403: "Authenticated but not allowed.",
    404: "Not found, or not yours.",
    409: "Conflicts with the stored state.",
    405: "The path is one of our own collection routes (a {jobId} of handlers, submit or schedule), "
    "which does not take this method.",
    413: "The body or its data is larger than the configured limit.",
    415: "The body is not application/json.",
    429: "Rate limited; retry after the Retry-After header's seconds.",
}
_BODY_METHODS = {"POST", "PUT", "PATCH"}
# NUL characters are refused in every path and query (config.exceptions: PostgreSQL cannot compare
# them): the document says so for every string parameter.
PATH_SEGMENT_PATTERN = "^[^/\u0000]+$"
NO_NUL_PATTERN = "^[^\u0000]*$"
# Operation id verbs of a plain APIView's item path (``/api-keys/{id}``), as DRF's viewset actions.
_ITEM_VERBS = {"GET": "retrieve", "PUT": "update", "PATCH": "partial_update", "DELETE": "destroy"}


def errors(*codes: int) -> dict:
    """``{code: the Error response}`` for the statuses a view raises beyond the ones every operation
    gets (401, 404, 400/415, 429: added by :class:`ContractAutoSchema`), e.g. ``**errors(409)``."""
    return {code: OpenApiResponse(ErrorSerializer, description=ERROR_DESCRIPTIONS[code]) for code in codes}


def contract_paths(endpoints, **kwargs):
    """Preprocessing hook: document each route once, under the contract's path and parameter names.

    The routers accept ``/jobs/{pk}`` and ``/jobs/{pk}/`` (API.md: both work); the description shows
    the form without the slash, as API.md writes it.
    """
    out, seen = [], set()
    for path, path_regex, method, callback in endpoints:
        if path != "/" and path.endswith("/"):
            path = path[:-1]
        for pattern, replacement in _PATH_RENAMES:  # the first rule that matches, only
            path, matched = pattern.subn(replacement, path)
            if matched:
                break
        if (path, method) not in seen:
            seen.add((path, method))
            out.append((path, path_regex, method, callback))
    return out


class ContractAutoSchema(AutoSchema):
    """AutoSchema with the contract's operation ids, tags and path parameters, the X-API-Key scheme,
    and the error responses every operation can give; a view that declares no serializer is documented
    as a free-form JSON object instead of failing."""

    def _has_serializer(self) -> bool:
        view = self.view
        return any(
            hasattr(view, attr) for attr in ("get_serializer", "get_serializer_class", "serializer_class")
        )

    def _is_list_view(self, serializer=None) -> bool:
        # Our lists answer an envelope ({jobs, pagination}), declared whole by a serializer; a bare
        # array is declared as such (POST /jobs/submit/bulk: ``Serializer(many=True)``).
        return serializer is not None and is_list_serializer(serializer)

    def get_operation_id(self) -> str:
        tokens = [t for t in self.path.strip("/").split("/") if t and not t.startswith("{")]
        action = getattr(self.view, "action", None)
        if action and isinstance(self.view, APIView) and action not in tokens:
            tokens.append(action)
        elif not action and self.path.rstrip("/").endswith("}"):
            tokens.append(_ITEM_VERBS.get(self.method, self.method.lower()))
        elif not action:
            tokens.append(self.method.lower())
        return "_".join(re.sub(r"\W", "_", t) for t in tokens) or "root"

    def get_tags(self) -> list[str]:
        if self.path.startswith("/jobs/schedule"):
            return ["schedules"]
        first = self.path.strip("/").split("/")[0]
        legacy = {
            "register",
            "login",
            "logout",
            "refresh-token",
            "request-password-reset",
            "reset-password",
            "api-keys",
        }
        if first in legacy:
            return ["auth"]
        if first == "submit-job" or first == "dashboard":
            return ["jobs"]
        return [first or "api"]

    def _resolve_path_parameters(self, variables):
        return [
            build_parameter_type(
                name=variable,
                location=OpenApiParameter.PATH,
                description=PATH_PARAMETERS.get(variable, ""),
                schema={**build_basic_type(OpenApiTypes.STR), "pattern": PATH_SEGMENT_PATTERN},
            )
            for variable in variables
        ]

    def get_request_serializer(self):
        if self.method not in _BODY_METHODS:
            return None
        return self._get_serializer() if self._has_serializer() else OpenApiTypes.OBJECT

    def get_response_serializers(self):
        return self._get_serializer() if self._has_serializer() else OpenApiTypes.OBJECT

    def get_auth(self):
        """The view's schemes plus ``X-API-Key`` wherever credentials are taken (API.md: every
        authenticated path accepts an API key), declared here whether or not its class is loaded."""
        auths = super().get_auth()
        if any(auths) and not any(API_KEY_SCHEME_NAME in a for a in auths):
            auths.insert(1, {API_KEY_SCHEME_NAME: []})
            self.registry.register_on_missing(
                ResolvedComponent(
                    name=API_KEY_SCHEME_NAME,
                    type=ResolvedComponent.SECURITY_SCHEMA,
                    object=API_KEY_SCHEME_NAME,
                    schema=API_KEY_SCHEME,
                )
            )
        return auths

    def _error_codes(self, auths) -> set[int]:
        codes: set[int] = set()
        if self.view.get_throttles():
            codes.add(429)
        if {} not in auths:
            codes.add(401)
        if "{" in self.path:
            codes.add(404)
        if self.path.startswith("/jobs/{jobId}"):
            # /jobs/handlers, /jobs/submit and /jobs/schedule/... are routes of their own (API.md): a
            # {jobId} that spells one reaches that route, which may not allow the method.
            codes.add(405)
        if self.get_request_serializer() is not None:
            codes |= {400, 415}
        if any(
            isinstance(p, OpenApiParameter) and p.location == OpenApiParameter.QUERY
            for p in self.get_override_parameters()
        ):
            codes.add(400)
        return codes

    def _get_response_bodies(self, direction="response"):
        responses = super()._get_response_bodies(direction)
        if direction != "response":
            return responses
        for code in sorted(self._error_codes(self.get_auth())):
            if str(code) not in responses:
                response = OpenApiResponse(ErrorSerializer, description=ERROR_DESCRIPTIONS[code])
                responses[str(code)] = self._get_response_for_code(response, str(code), direction=direction)
        return responses

    def _get_response_headers_for_code(self, status_code, direction="response"):
        headers = super()._get_response_headers_for_code(status_code, direction)
        if str(status_code) == "429":
            headers["Retry-After"] = {"schema": {"type": "integer"}, "description": "Seconds to wait."}
        return headers


def strings_without_nul(result, generator, request, public):
    """Postprocessing hook: every string path or query parameter of every operation says it takes no
    NUL character (the server answers 400 to one, config.exceptions), whatever view documents it."""
    for operations in result.get("paths", {}).values():
        for operation in operations.values():
            for parameter in operation.get("parameters", []) if isinstance(operation, dict) else []:
                schema = parameter.get("schema", {})
                if parameter.get("in") in ("path", "query") and schema.get("type") == "string":
                    if "enum" not in schema and "pattern" not in schema:
                        schema["pattern"] = NO_NUL_PATTERN
    return result
