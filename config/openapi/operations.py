"""API.md, operation by operation: request and response shapes, query parameters, examples.

Keyed by ``"METHOD /contract/path"`` (the form :func:`config.openapi.schema.contract_paths`
produces), so an endpoint is documented as soon as its route exists, whatever its view class is
called. Error bodies (400/401/404/415/429 as they apply) are added by ``ContractAutoSchema``;
``errors`` lists the operation's other error statuses. An operation missing here is documented as
a free-form JSON object.
"""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse

from . import shapes

PATH_PARAMETERS = {
    "jobId": "The job's id (``id`` / ``jobId`` of the job: your ``options.jobId``, "
    "``repeat:<schedulerId>:<fire time ms>`` for a schedule fire's job, or its number).",
    "schedulerId": "The schedule's id (``schedulerId``), yours or generated.",
    "id": "The resource's id.",
    "deliveryId": "The delivery's id.",
}

# config.pagination's bounds: page 1..10**9, limit 1..100 (page=0 is a 400, and so the spec says).
# Not exploded: a list or object sent for one of them arrives as "a,b" (a 400), not as other parameters.
_PAGE = [
    OpenApiParameter(
        "page",
        {"type": "integer", "minimum": 1, "maximum": 10**9},
        OpenApiParameter.QUERY,
        description="1-based page, default 1.",
        style="form",
        explode=False,
    ),
    OpenApiParameter(
        "limit",
        {"type": "integer", "minimum": 1, "maximum": 100},
        OpenApiParameter.QUERY,
        description="1..100, default 10.",
        style="form",
        explode=False,
    ),
]
_JOB_FILTERS = [
    OpenApiParameter(
        "status",
        {"type": "string", "enum": [*shapes.JOB_STATES, ""]},
        OpenApiParameter.QUERY,
        description="Only jobs in this state (empty: every state).",
    ),
    OpenApiParameter(
        "name", OpenApiTypes.STR, OpenApiParameter.QUERY, description="Only jobs of this handler."
    ),
]

# The seed's request body for POST /jobs/schedule (seed/000: "Schedule a new job"), with the
# built-in `echo` handler for the seed's placeholder `jobName` and dates moved into the future.
SEED_SCHEDULE_BODY = {
    "name": "echo",
    "data": {"key1": "value1", "key2": "value2"},
    "schedule": {
        "cron": "0 0 * * *",
        "tz": "America/New_York",
        "startDate": "2030-07-01T00:00:00.000Z",
        "endDate": "2030-12-31T00:00:00.000Z",
    },
    "options": {"removeOnComplete": {"count": 3}, "removeOnFail": {"count": 5}},
}
_SCHEDULE_EXAMPLES = [
    OpenApiExample(
        "Daily at midnight in New York (the seed's request body)", value=SEED_SCHEDULE_BODY, request_only=True
    ),
    OpenApiExample(
        "Every 30 seconds, 10 runs",
        value={"name": "echo", "data": {"ping": 1}, "schedule": {"repeat": {"every": 30000, "limit": 10}}},
        request_only=True,
    ),
    OpenApiExample(
        "Once at an instant",
        value={"name": "echo", "data": None, "schedule": {"at": "2030-01-01T09:00:00Z"}},
        request_only=True,
    ),
]
_SUBMIT_EXAMPLES = [
    OpenApiExample("Echo", value={"name": "echo", "data": {"hello": "world"}}, request_only=True),
    OpenApiExample(
        "With options",
        value={
            "name": "echo",
            "data": 0,
            "options": {
                "attempts": 3,
                "backoff": {"type": "exponential", "delay": 1000},
                "jobId": "order-42",
            },
        },
        request_only=True,
    ),
]


def _ok(serializer, description: str) -> OpenApiResponse:
    return OpenApiResponse(serializer, description=description)


_JOB = _ok(shapes.JobSerializer, "The job.")
_SCHEDULE = _ok(shapes.ScheduleSerializer, "The schedule.")
_MESSAGE = _ok(shapes.MessageSerializer, "Done.")
_PUBLIC = {"tags": ["auth"]}
_FREE = OpenApiTypes.OBJECT

OPERATIONS: dict[str, dict] = {
    # --- auth ---------------------------------------------------------------------------------
    "POST /auth/register": {
        **_PUBLIC,
        "summary": "Create an account",
        "request": shapes.RegisterRequestSerializer,
        "responses": {201: _ok(shapes.RegisterSerializer, "Registered; a token pair for the new user.")},
        "errors": [409],
    },
    "POST /auth/login": {
        **_PUBLIC,
        "summary": "Log in for a token pair",
        "request": shapes.LoginRequestSerializer,
        "responses": {200: _ok(shapes.TokensSerializer, "Access and refresh JWTs.")},
        "errors": [401],
    },
    "POST /auth/refresh-token": {
        **_PUBLIC,
        "summary": "Exchange a refresh token for a new access token",
        "request": shapes.RefreshRequestSerializer,
        "responses": {200: _ok(shapes.TokensSerializer, "A new access token (and a rotated refresh token).")},
        "errors": [401],
    },
    "POST /auth/logout": {
        **_PUBLIC,
        "summary": "Revoke a refresh token",
        "request": shapes.RefreshRequestSerializer,
        "responses": {200: _MESSAGE},
        "errors": [401],
    },
    "POST /auth/request-password-reset": {
        **_PUBLIC,
        "summary": "Mail a one-time password reset token",
        "description": "Always 200, whether or not the address has an account (no account enumeration).",
        "request": shapes.PasswordResetRequestSerializer,
        "responses": {200: _MESSAGE},
    },
    "POST /auth/reset-password": {
        **_PUBLIC,
        "summary": "Set a new password with a reset token",
        "request": shapes.PasswordResetSerializer,
        "responses": {200: _MESSAGE},
    },
    "GET /auth/me": {
        **_PUBLIC,
        "summary": "The caller",
        "responses": {200: _ok(shapes.UserSerializer, "You.")},
    },
    "GET /auth/api-keys": {
        **_PUBLIC,
        "summary": "Your API keys (never their secrets)",
        "responses": {200: _ok(_FREE, "The caller's API keys.")},
    },
    "POST /auth/api-keys": {
        **_PUBLIC,
        "summary": "Create an API key",
        "description": "The key's secret is in this response only (stored hashed). Send it as X-API-Key.",
        "request": shapes.ApiKeyCreateSerializer,
        "responses": {201: _ok(_FREE, "The new key including its secret, shown once.")},
    },
    "DELETE /auth/api-keys/{id}": {**_PUBLIC, "summary": "Revoke an API key", "responses": {200: _MESSAGE}},
    # --- jobs ---------------------------------------------------------------------------------
    "POST /jobs/submit": {
        "summary": "Submit a job",
        "description": "Runs handler `name` with `data` (any JSON value). A repeated `options.jobId` "
        "of yours answers 200 with the existing job. An unknown handler is a 400 listing the known names.",
        "request": shapes.JobSubmitSerializer,
        "responses": {
            201: _ok(shapes.JobSerializer, "Created."),
            200: _ok(shapes.JobSerializer, "The job with this jobId."),
        },
        "examples": _SUBMIT_EXAMPLES,
        "errors": [413],
    },
    "GET /jobs": {
        "summary": "Your jobs, newest first",
        "parameters": [*_JOB_FILTERS, *_PAGE],
        "responses": {200: _ok(shapes.JobListSerializer, "A page of jobs.")},
    },
    "GET /jobs/handlers": {
        "summary": "The registered handlers",
        "responses": {
            200: _ok(shapes.HandlerListSerializer, "Handler names, descriptions and data schemas.")
        },
    },
    "GET /jobs/{jobId}": {"summary": "One of your jobs", "responses": {200: _JOB}},
    "POST /jobs/{jobId}/cancel": {
        "summary": "Cancel a job",
        "request": None,
        "responses": {200: _JOB},
        "errors": [409],
        "description": "409 when the job's state does not allow it (already finished).",
    },
    "POST /jobs/{jobId}/retry": {
        "summary": "Retry a failed or cancelled job",
        "request": None,
        "responses": {200: _JOB},
        "errors": [409],
    },
    "POST /jobs/{jobId}/promote": {
        "summary": "Run a delayed job now",
        "description": "BullMQ's promote: a delayed job (a delay or a retry's backoff) becomes waiting "
        "at once. "
        "409 in any other state.",
        "request": None,
        "responses": {200: _JOB},
        "errors": [409],
    },
    "DELETE /jobs/{jobId}": {
        "summary": "Remove a finished job",
        "responses": {200: _MESSAGE},
        "errors": [409],
    },
    # --- schedules ----------------------------------------------------------------------------
    "POST /jobs/schedule": {
        "summary": "Create a schedule",
        "request": shapes.ScheduleWriteSerializer,
        "responses": {201: _ok(shapes.ScheduleSerializer, "Created.")},
        "examples": _SCHEDULE_EXAMPLES,
        "errors": [409],
    },
    "GET /jobs/schedule": {
        "summary": "Your schedules",
        "parameters": _PAGE,
        "responses": {200: _ok(shapes.ScheduleListSerializer, "A page of schedules.")},
    },
    "POST /jobs/schedule/preview": {
        "summary": "Next fire times of a schedule object, without saving it",
        "request": shapes.PreviewRequestSerializer,
        "responses": {200: _ok(shapes.PreviewSerializer, "Description and the first `count` fire times.")},
        "examples": [
            OpenApiExample(
                "Cron",
                value={"schedule": {"cron": "0 9 * * 1-5", "tz": "Europe/Berlin"}, "count": 3},
                request_only=True,
            )
        ],
    },
    "GET /jobs/schedule/{schedulerId}": {"summary": "One of your schedules", "responses": {200: _SCHEDULE}},
    "PUT /jobs/schedule/{schedulerId}": {
        "summary": "Create or replace a schedule (upsert)",
        "request": shapes.ScheduleWriteSerializer,
        "responses": {
            201: _ok(shapes.ScheduleSerializer, "Created."),
            200: _ok(shapes.ScheduleSerializer, "Replaced."),
        },
        "examples": _SCHEDULE_EXAMPLES,
        "errors": [409],
    },
    "PATCH /jobs/schedule/{schedulerId}": {
        "summary": "Change part of a schedule",
        "request": shapes.SchedulePatchSerializer,
        "responses": {200: _SCHEDULE},
        "errors": [409],
    },
    "DELETE /jobs/schedule/{schedulerId}": {
        "summary": "Remove a schedule (its jobs are kept)",
        "responses": {200: _MESSAGE},
    },
    "POST /jobs/schedule/{schedulerId}/pause": {
        "summary": "Pause",
        "request": None,
        "responses": {200: _SCHEDULE},
        "errors": [409],
    },
    "POST /jobs/schedule/{schedulerId}/resume": {
        "summary": "Resume",
        "request": None,
        "responses": {200: _SCHEDULE},
        "errors": [409],
    },
    "POST /jobs/schedule/{schedulerId}/trigger": {
        "summary": "Run once now (cadence and limit unchanged)",
        "request": None,
        "responses": {201: _ok(shapes.TriggerSerializer, "The job created.")},
        "errors": [409],
    },
    "GET /jobs/schedule/{schedulerId}/jobs": {
        "summary": "Jobs this schedule created",
        "parameters": _PAGE,
        "responses": {200: _ok(shapes.JobListSerializer, "A page of jobs, newest first.")},
    },
    # --- webhooks -----------------------------------------------------------------------------
    "GET /webhooks": {"summary": "Your webhooks", "responses": {200: _ok(_FREE, "{webhooks: [...]}")}},
    "POST /webhooks": {
        "summary": "Create a webhook",
        "request": shapes.WebhookWriteSerializer,
        "description": "The answer carries the signing `secret`, shown once. Requests are signed as Standard "
        "Webhooks (webhook-id, webhook-timestamp, webhook-signature).",
        "responses": {201: _ok(_FREE, "{webhook} including its secret.")},
        "errors": [409],
    },
    "PUT /webhooks/{id}": {
        "summary": "Change a webhook",
        "request": shapes.WebhookWriteSerializer,
        "responses": {200: _ok(_FREE, "The webhook.")},
        "errors": [409],
    },
    "DELETE /webhooks/{id}": {"summary": "Remove a webhook", "responses": {200: _MESSAGE}},
    "GET /webhooks/{id}/deliveries": {
        "summary": "The delivery log",
        "parameters": _PAGE,
        "responses": {200: _ok(_FREE, "Deliveries, newest first.")},
    },
    "POST /webhooks/{id}/deliveries/{deliveryId}/redeliver": {
        "summary": "Send a delivery again",
        "request": None,
        "responses": {202: _ok(_FREE, "The new delivery (queued).")},
        "errors": [409],
    },
    "POST /webhooks/{id}/test": {
        "summary": "Send a test event",
        "request": None,
        "responses": {200: _ok(_FREE, "The test delivery.")},
    },
    # --- operations ---------------------------------------------------------------------------
    "GET /healthz": {
        "tags": ["operations"],
        "summary": "Liveness: the web process is up",
        "responses": {200: _ok(shapes.HealthSerializer, "Up.")},
    },
    "GET /readyz": {
        "tags": ["operations"],
        "summary": "Readiness: database, Redis, a worker, beat",
        "description": "200 when every check in READYZ_REQUIRED passes, else 503; all four are always "
        "reported. The worker ping waits up to READYZ_WORKER_WAIT_S when no worker answers.",
        "responses": {
            200: _ok(shapes.ReadinessSerializer, "Ready."),
            503: _ok(shapes.ReadinessSerializer, "A required check failed."),
        },
    },
    "GET /metrics": {
        "tags": ["operations"],
        "summary": "Prometheus metrics",
        "description": "jobserver_jobs{state,handler}, jobserver_schedules{state}, "
        "jobserver_fire_lateness_seconds (histogram), jobserver_webhook_deliveries{status}, "
        "jobserver_queue_depth{queue}.",
        "responses": {(200, "text/plain"): _ok(OpenApiTypes.STR, "Prometheus text exposition format.")},
    },
}
