"""Contract fuzzing: schemathesis generates requests from our own /api-docs.json for every operation
and holds the answers to it: never a 5xx (malformed, out-of-range and wrongly typed input included:
negative data), only documented status codes and content types, bodies that match the documented
schemas, and schema-violating input refused (``negative_data_rejection``: a numeric ``schedulerId``
is a 400, not coerced to a string). Every check, against the live server's processes on
PostgreSQL: ``make fuzz`` (scripts/fuzz_live.py).

The app runs in-process through Django's WSGI handler on the test database, called as a real
user with a Bearer token. Per operation: the documented examples, ``EXAMPLES_PER_OPERATION``
generated cases for each of positive and negative data, and schemathesis' coverage phase (boundary
and type-violating values derived from each schema, whatever ``max_examples`` is): about 1,800
requests for the 21 operations of this branch, ~1.5 minutes on 2 busy cores, most of it spent
generating data. ``derandomize`` keeps runs repeatable; if the suite must get faster, dropping the
coverage phase (``schema.config.phases.update(phases=["examples", "fuzzing"])``) cuts it to a few
hundred requests.
"""

from __future__ import annotations

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    response_schema_conformance,
    status_code_conformance,
)

from config import health
from tests.conftest import api_for, make_user

EXAMPLES_PER_OPERATION = 8
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    negative_data_rejection,
]

# The spec as the running app serves it (no database is touched to serve it).
schema = schemathesis.openapi.from_wsgi("/api-docs.json", WSGIHandler())
schema.config.generation.update(
    modes=[schemathesis.GenerationMode.POSITIVE, schemathesis.GenerationMode.NEGATIVE],
    max_examples=EXAMPLES_PER_OPERATION,
)


@pytest.fixture
def token(db, django_user_model, settings):
    """A real user's Bearer token; Django's handler must not close the connection after each request
    (that would end the test's transaction), as Django's own test client arranges too."""
    # No worker runs here: /readyz answers its documented 503, pinging once for the whole test.
    settings.READYZ_WORKER_WAIT_S = 0.2
    settings.READYZ_CACHE_S = 600
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield api_for(make_user(django_user_model, "fuzzer"))._credentials["HTTP_AUTHORIZATION"]
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)
    health._worker_cache.clear()


@schema.parametrize()
@settings(deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_every_operation_keeps_its_contract(case, token):
    # /readyz documents its 503 (no worker runs here); every other 5xx is a failure.
    checks = [c for c in CHECKS if c is not not_a_server_error] if case.path == "/readyz" else CHECKS
    case.call_and_validate(headers={"Authorization": token}, checks=checks)
