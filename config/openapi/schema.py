"""drf-spectacular glue: contract paths, the operations table, error bodies on every operation."""

from __future__ import annotations

import re

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import ResolvedComponent, build_basic_type, build_parameter_type
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse
from rest_framework.views import APIView

from .auth import API_KEY_SCHEME, API_KEY_SCHEME_NAME
from .operations import OPERATIONS, PATH_PARAMETERS
from .shapes import ErrorSerializer

# Router paths (``/jobs/{pk}/``, trailing slash optional) → the contract's names, in order.
_PATH_RENAMES = [
    (re.compile(r"^/jobs/schedule/\{[^}]+\}"), "/jobs/schedule/{schedulerId}"),
    (re.compile(r"^/jobs/\{[^}]+\}"), "/jobs/{jobId}"),
    (re.compile(r"^/webhooks/\{[^}]+\}/deliveries/\{[^}]+\}"), "/webhooks/{id}/deliveries/{deliveryId}"),
    (re.compile(r"^/webhooks/\{[^}]+\}"), "/webhooks/{id}"),
    (re.compile(r"^/auth/api-keys/\{[^}]+\}"), "/auth/api-keys/{id}"),
]

ERROR_DESCRIPTIONS = {
    400: "Bad input: malformed JSON or a field breaking a rule (errors names each field).",
    401: "No credentials, or an invalid/expired token or API key.",
    403: "Authenticated but not allowed.",
    404: "Not found, or not yours.",
    409: "Conflicts with the stored state.",
    413: "The body or its data is larger than the configured limit.",
    415: "The body is not application/json.",
    429: "Rate limited; retry after the Retry-After header's seconds.",
}
_BODY_METHODS = {"POST", "PUT", "PATCH"}
# NUL characters are refused in every path and query (config.exceptions: PostgreSQL cannot compare
# them): the document says so for every string parameter.
PATH_SEGMENT_PATTERN = "^[^/\u0000]+$"
NO_NUL_PATTERN = "^[^\u0000]*$"


def contract_paths(endpoints, **kwargs):
    """Preprocessing hook: document each route once, under the contract's path and parameter names.

    The routers accept ``/jobs/{pk}`` and ``/jobs/{pk}/`` (API.md: both work); the description shows
    the form without the slash, as API.md writes it.
    """
    out, seen = [], set()
    for path, path_regex, method, callback in endpoints:
        if path != "/" and path.endswith("/"):
            path = path[:-1]
        for pattern, replacement in _PATH_RENAMES:
            path = pattern.sub(replacement, path)
        if (path, method) not in seen:
            seen.add((path, method))
            out.append((path, path_regex, method, callback))
    return out


class ContractAutoSchema(AutoSchema):
    """AutoSchema documenting each operation from :data:`OPERATIONS` by ``"METHOD /contract/path"``."""

    @property
    def operation_key(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def contract(self) -> dict:
        return OPERATIONS.get(self.operation_key, {})

    def _has_serializer(self) -> bool:
        view = self.view
        return any(
            hasattr(view, attr) for attr in ("get_serializer", "get_serializer_class", "serializer_class")
        )

    def _is_list_view(self, serializer=None) -> bool:
        # Our lists answer an envelope ({jobs, pagination}), which the table describes whole.
        return False if "responses" in self.contract else super()._is_list_view(serializer)

    def get_operation_id(self) -> str:
        if "operationId" in self.contract:
            return self.contract["operationId"]
        tokens = [t for t in self.path.strip("/").split("/") if t and not t.startswith("{")]
        action = getattr(self.view, "action", None)
        if action and isinstance(self.view, APIView) and action not in tokens:
            tokens.append(action)
        elif not action:
            tokens.append(self.method.lower())
        return "_".join(re.sub(r"\W", "_", t) for t in tokens)

    def get_summary(self):
        return self.contract.get("summary") or super().get_summary()

    def get_description(self):
        return self.contract.get("description") or super().get_description()

    def get_tags(self) -> list[str]:
        if "tags" in self.contract:
            return self.contract["tags"]
        if self.path.startswith("/jobs/schedule"):
            return ["schedules"]
        return [self.path.strip("/").split("/")[0] or "api"]

    def get_override_parameters(self):
        return [*self.contract.get("parameters", []), *super().get_override_parameters()]

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
        if "request" in self.contract:
            return self.contract["request"]
        if self.method not in _BODY_METHODS:
            return None
        return self._get_serializer() if self._has_serializer() else OpenApiTypes.OBJECT

    def get_response_serializers(self):
        if "responses" in self.contract:
            return self.contract["responses"]
        return self._get_serializer() if self._has_serializer() else OpenApiTypes.OBJECT

    def get_examples(self):
        return [*self.contract.get("examples", []), *super().get_examples()]

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
        codes = set(self.contract.get("errors", ()))
        if self.view.get_throttles():
            codes.add(429)
        if {} not in auths:
            codes.add(401)
        if "{" in self.path:
            codes.add(404)
        if self.get_request_serializer() is not None:
            codes |= {400, 415}
        if any(p.location == OpenApiParameter.QUERY for p in self.contract.get("parameters", [])):
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
