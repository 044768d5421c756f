"""Probe endpoints: health, readiness and the Prometheus metrics page (series in :mod:`config.metrics`).

- ``/healthz``: the web process is up; it touches nothing else (a liveness probe).
- ``/readyz``: can the system do its job right now? Checks, each with a short timeout:
  ``database`` (``SELECT 1``), ``redis`` (``PING``), ``workers`` (at least one Celery worker answers
  ``control.ping``; it waits up to ``READYZ_WORKER_WAIT_S`` for the first answer, which comes within
  milliseconds when a worker runs, and the outcome is cached ``READYZ_CACHE_S`` seconds per web
  process, so a busy probe does not flood the broker) and ``beat`` (beat's leader lock
  ``jobserver:beat:leader`` exists in Redis; the leader renews it every tick and it expires
  ``BEAT_LEADER_TTL_S`` after the leader stops, so its presence means a leader ticked recently).

  Answer: ``{"status": "ok"|"fail", "checks": {name: {"status": "ok"|"fail", ...details}}}``, 200 when
  every check in ``READYZ_REQUIRED`` (default all four) is ok, else 503. Checks left out of
  ``READYZ_REQUIRED`` are still reported. Why beat is required by default: without it no schedule
  fires, which is silent otherwise; an orchestrator that routes traffic by readiness can set
  ``READYZ_REQUIRED=database,redis`` so a missing worker or beat alerts without taking the API down
  (docs/deploy.md).
"""

from __future__ import annotations

import threading
import time

import redis
from django.conf import settings
from django.db import connection
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_field
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from rest_framework import serializers
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.permissions import AllowAny
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from .metrics import registry as metrics_registry

BEAT_LEADER_KEY = "jobserver:beat:leader"  # scheduling.beat.LEADER_KEY
CHECKS = ("database", "redis", "workers", "beat")

_worker_cache: dict[str, tuple[float, dict]] = {}
_worker_cache_lock = threading.Lock()


class HealthSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["ok"])

    class Meta:
        ref_name = "Health"


@extend_schema_field(
    {
        "type": "object",
        "required": ["status"],
        "properties": {
            "status": {"enum": ["ok", "fail"]},
            "error": {"type": "string", "description": "Why the check failed."},
        },
        "additionalProperties": True,
        "description": "One check; details vary (vendor, workers that answered, beat leader and lock ttlMs).",
    }
)
class CheckField(serializers.JSONField):
    """One readiness check: ``{status, error?, ...details}``."""


class ReadinessChecksSerializer(serializers.Serializer):
    database = CheckField()
    redis = CheckField()
    workers = CheckField()
    beat = CheckField()

    class Meta:
        ref_name = "ReadinessChecks"


class ReadinessSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=["ok", "fail"])
    checks = ReadinessChecksSerializer()

    class Meta:
        ref_name = "Readiness"


class PublicProbe(APIView):
    """A probe endpoint: no credentials (API.md), no session, no throttling."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes: list = []


class HealthzView(PublicProbe):
    @extend_schema(
        summary="Liveness: the web process is up",
        tags=["operations"],
        responses={200: OpenApiResponse(HealthSerializer, description="Up.")},
    )
    def get(self, request):
        """GET /healthz → 200 ``{"status": "ok"}`` while the process serves requests."""
        return Response({"status": "ok"})


healthz = HealthzView.as_view()


def _redis_client() -> redis.Redis:
    timeout = settings.READYZ_TIMEOUT_S
    return redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=timeout, socket_timeout=timeout)


def check_database() -> dict:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:
        return {"status": "fail", "error": f"{type(exc).__name__}: {exc}"[:300]}
    return {"status": "ok", "vendor": connection.vendor}


def check_redis(client: redis.Redis) -> dict:
    try:
        client.ping()
    except redis.RedisError as exc:
        return {"status": "fail", "error": f"{type(exc).__name__}: {exc}"[:300]}
    return {"status": "ok"}


def check_workers() -> dict:
    """Ping the workers through the broker; cached ``READYZ_CACHE_S`` seconds in this process."""
    now = time.monotonic()
    with _worker_cache_lock:
        cached = _worker_cache.get(settings.REDIS_URL)
        if cached and now - cached[0] < settings.READYZ_CACHE_S:
            return cached[1]
    from config.celery import app

    # A broadcast only reaches workers already listening, so a worker that is still starting is
    # caught by pinging again (every 0.5 s) until the wait is over; the first reply ends the wait.
    deadline = time.monotonic() + settings.READYZ_WORKER_WAIT_S
    names: list[str] = []
    result: dict[str, str | list[str]]
    try:
        while True:
            replies = app.control.ping(timeout=0.5, limit=1) or []
            names = sorted(name for reply in replies for name in reply)
            if names or time.monotonic() >= deadline:
                break
    except Exception as exc:
        result = {"status": "fail", "error": f"{type(exc).__name__}: {exc}"[:300]}
    else:
        result = {"status": "ok" if names else "fail", "workers": names}
        if not names:
            result["error"] = f"no worker answered within {settings.READYZ_WORKER_WAIT_S:g} s"
    with _worker_cache_lock:
        _worker_cache[settings.REDIS_URL] = (time.monotonic(), result)
    return result


def check_beat(client: redis.Redis) -> dict:
    try:
        ttl_ms = client.pttl(BEAT_LEADER_KEY)
        leader = client.get(BEAT_LEADER_KEY) if ttl_ms and ttl_ms > 0 else None
    except redis.RedisError as exc:
        return {"status": "fail", "error": f"{type(exc).__name__}: {exc}"[:300]}
    if not leader:
        return {"status": "fail", "error": "no beat holds the leader lock"}
    name = leader.decode(errors="replace") if isinstance(leader, bytes) else str(leader)
    return {"status": "ok", "leader": name, "ttlMs": ttl_ms}


def readiness() -> tuple[bool, dict]:
    """Run the checks; ``(ready, body)`` as described in the module docstring."""
    client = _redis_client()
    try:
        checks = {"database": check_database(), "redis": check_redis(client)}
        if checks["redis"]["status"] == "ok":
            checks["workers"] = check_workers()
            checks["beat"] = check_beat(client)
        else:
            # Both go through Redis: skip them rather than wait for the broker's reconnect loop.
            checks["workers"] = {"status": "fail", "error": "redis unreachable"}
            checks["beat"] = {"status": "fail", "error": "redis unreachable"}
    finally:
        client.close()
    ready = all(checks[name]["status"] == "ok" for name in settings.READYZ_REQUIRED)
    return ready, {"status": "ok" if ready else "fail", "checks": checks}


class ReadyzView(PublicProbe):
    @extend_schema(
        summary="Readiness: database, Redis, a worker, beat",
        description="200 when every check in READYZ_REQUIRED passes, else 503; all four are always "
        "reported. The worker ping waits up to READYZ_WORKER_WAIT_S when no worker answers.",
        tags=["operations"],
        responses={
            200: OpenApiResponse(ReadinessSerializer, description="Ready."),
            503: OpenApiResponse(ReadinessSerializer, description="A required check failed."),
        },
    )
    def get(self, request):
        """GET /readyz → 200 or 503 ``{status, checks: {database, redis, workers, beat}}`` (see above)."""
        ready, body = readiness()
        return Response(body, status=200 if ready else 503)


readyz = ReadyzView.as_view()


class PrometheusTextRenderer(BaseRenderer):
    media_type = "text/plain"
    format = "txt"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        # Only an error body (a dict) reaches a renderer; the metrics page is an HttpResponse.
        return JSONRenderer().render(data)


class TextWhateverIsAccepted(BaseContentNegotiation):
    """Scrapers send all sorts of Accept headers (OpenMetrics, text/plain, application/json): the
    answer is always Prometheus text, never 406."""

    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


class MetricsView(PublicProbe):
    renderer_classes = [PrometheusTextRenderer]
    content_negotiation_class = TextWhateverIsAccepted

    @extend_schema(
        summary="Prometheus metrics",
        description="jobserver_jobs{state,handler}, jobserver_schedules{state}, "
        "jobserver_fire_lateness_seconds (histogram), jobserver_webhook_deliveries{status}, "
        "jobserver_queue_depth{queue}.",
        tags=["operations"],
        responses={(200, "text/plain"): OpenApiResponse(OpenApiTypes.STR, description="Prometheus text.")},
    )
    def get(self, request):
        """GET /metrics → Prometheus text of :data:`config.metrics.registry` (no credentials, as /healthz)."""
        return HttpResponse(generate_latest(metrics_registry), content_type=CONTENT_TYPE_LATEST)


metrics = MetricsView.as_view()
