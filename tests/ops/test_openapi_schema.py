"""The OpenAPI description: valid, complete for the contract's paths, served with offline docs."""

from __future__ import annotations

import re

import pytest
from django.core.management import call_command
from rest_framework.test import APIClient

# Every operation of API.md that exists in this code base, under the contract's path.
CONTRACT_OPERATIONS = {
    "/auth/register": {"post"},
    "/auth/login": {"post"},
    "/auth/me": {"get"},
    "/jobs": {"get"},
    "/jobs/submit": {"post"},
    "/jobs/handlers": {"get"},
    "/jobs/{jobId}": {"get"},
    "/jobs/schedule": {"get", "post"},
    "/jobs/schedule/preview": {"post"},
    "/jobs/schedule/{schedulerId}": {"get", "put", "patch", "delete"},
    "/jobs/schedule/{schedulerId}/pause": {"post"},
    "/jobs/schedule/{schedulerId}/resume": {"post"},
    "/jobs/schedule/{schedulerId}/trigger": {"post"},
    "/jobs/schedule/{schedulerId}/jobs": {"get"},
}


@pytest.fixture
def spec(db):
    response = APIClient().get("/api-docs.json")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    return response.json()


def test_spectacular_validates_without_warnings(tmp_path):
    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "openapi.yaml"))
    assert (tmp_path / "openapi.yaml").read_text().startswith("openapi: 3.0.3")


def test_spec_documents_every_contract_operation_without_trailing_slash(spec):
    documented = {path: set(ops) for path, ops in spec["paths"].items()}
    for path, methods in CONTRACT_OPERATIONS.items():
        assert methods <= documented.get(path, set()), path
    assert not [path for path in documented if path.endswith("/")]


def test_every_operation_documents_the_error_shape(spec):
    assert spec["components"]["schemas"]["Error"] == {
        "type": "object",
        "properties": {
            "message": {"type": "string", "description": "What went wrong, naming the field and the rule."},
            "errors": {
                "type": "object",
                "additionalProperties": {"type": "array", "items": {"type": "string"}},
                "description": "Messages per field (JSON path such as schedule.cron); "
                "empty when no field is to blame.",
            },
        },
        "required": ["errors", "message"],
    }
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            errors = {code for code in operation["responses"] if "400" <= code < "500"}
            for code in errors:
                schema = operation["responses"][code]["content"]["application/json"]["schema"]
                assert schema == {"$ref": "#/components/schemas/Error"}, (method, path, code)


def test_both_auth_schemes_on_authenticated_operations_and_none_on_login(spec):
    schemes = spec["components"]["securitySchemes"]
    assert schemes["jwtAuth"] == {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
    assert schemes["apiKeyAuth"]["type"] == "apiKey"
    assert (schemes["apiKeyAuth"]["in"], schemes["apiKeyAuth"]["name"]) == ("header", "X-API-Key")
    submit = spec["paths"]["/jobs/submit"]["post"]
    assert submit["security"] == [{"jwtAuth": []}, {"apiKeyAuth": []}, {"cookieAuth": []}]
    assert spec["paths"]["/auth/login"]["post"]["security"] == [{}]
    assert "401" in spec["paths"]["/jobs/{jobId}"]["get"]["responses"]


def test_schedule_create_shows_the_seeds_request_body_as_example(spec):
    body = spec["paths"]["/jobs/schedule"]["post"]["requestBody"]
    examples = body["content"]["application/json"]["examples"]
    seed = next(e["value"] for e in examples.values() if "seed" in e["summary"])
    assert seed["schedule"]["cron"] == "0 0 * * *"
    assert seed["schedule"]["tz"] == "America/New_York"
    assert seed["options"] == {"removeOnComplete": {"count": 3}, "removeOnFail": {"count": 5}}


def test_schedule_object_is_one_of_cron_repeat_at_with_bullmqs_spellings(spec):
    schema = spec["components"]["schemas"]["ScheduleWriteRequest"]["properties"]["schedule"]
    # pattern is BullMQ's cron, a flat every its repeat.every (issue 19)
    assert [variant["required"] for variant in schema["oneOf"]] == [
        ["cron"],
        ["pattern"],
        ["repeat"],
        ["every"],
        ["at"],
    ]


@pytest.mark.parametrize("path", ["/api-docs/", "/api-docs", "/api-docs/redoc/"])
def test_docs_pages_work_offline(db, path):
    response = APIClient().get(path)
    html = response.content.decode()
    assert response.status_code == 200
    assert "/api-docs.json" in html.replace("\\u002D", "-")
    assert re.findall(r"(?:https?:)?//[\w.-]+\.\w+/", html) == []
    assert "/static/drf_spectacular_sidecar/" in html


def test_undocumented_view_is_a_free_form_object_and_a_throttled_one_documents_429(db):
    from drf_spectacular.generators import SchemaGenerator

    spec = SchemaGenerator(urlconf="tests.ops.boom_urls").get_schema(request=None, public=True)
    throttled = spec["paths"]["/jobs/throttled"]["get"]
    assert throttled["responses"]["200"]["content"]["application/json"]["schema"] == {
        "type": "object",
        "additionalProperties": {},
    }
    assert throttled["responses"]["429"]["headers"]["Retry-After"]["schema"] == {"type": "integer"}
    assert "429" not in spec["paths"]["/jobs/boom"]["get"]["responses"]
