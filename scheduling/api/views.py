"""Schedule endpoints (API.md: Scheduled jobs). Thin: parse, call a service or selector, shape."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError as DRFValidationError
from rest_framework.response import Response

from config.openapi.schema import errors
from config.pagination import PAGE_PARAMETERS, paginate
from config.serializers import MessageSerializer
from jobs.api.serializers import JobListSerializer

from .. import selectors, services
from ..definition import ScheduleDefinition, definition_parse, now_ms, timing_parse
from .serializers import (
    PreviewRequestSerializer,
    PreviewSerializer,
    ScheduleListSerializer,
    SchedulePatchSerializer,
    ScheduleSerializer,
    ScheduleWriteSerializer,
    TriggerSerializer,
)

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


def _schedule(row) -> dict:
    return ScheduleSerializer(row).data


def _definition(body: dict, *, queue: str | None = None) -> ScheduleDefinition:
    """The schedule definition of a validated ``ScheduleWriteSerializer`` body; ``queue`` (the path's,
    JobRunner v0.0.2) wins over a ``queue`` in the body."""
    return definition_parse(
        name=body["name"],
        data=body["data"],
        schedule=body["schedule"],
        options=body["options"],
        queue=queue if queue is not None else body.get("queue"),
        flow=body.get("flow"),
        now=now_ms(),
    )


def schedule_created(request, *, queue: str | None = None) -> Response:
    """Parse a ``ScheduleWriteSerializer`` body, create the schedule, answer 201 with it. ``queue``: the
    path's queue (JobRunner v0.0.2), which wins over a ``queue`` in the body."""
    ser = ScheduleWriteSerializer(data=request.data)
    ser.is_valid(raise_exception=True)
    row = services.schedule_create(
        owner=request.user,
        definition=_definition(ser.validated_data, queue=queue),
        scheduler_id=ser.validated_data.get("schedulerId"),
    )
    return Response(_schedule(row), status=status.HTTP_201_CREATED)


class ScheduleViewSet(viewsets.ViewSet):
    """``/jobs/schedule``: the caller's schedules. Another user's schedule is a 404 on every route."""

    lookup_field = "scheduler_id"
    lookup_value_regex = r"[^/]+"

    def _get(self, request, scheduler_id):
        return selectors.schedule_get(user=request.user, scheduler_id=scheduler_id)

    @extend_schema(
        summary="Your schedules", parameters=PAGE_PARAMETERS, responses={200: ScheduleListSerializer}
    )
    def list(self, request):
        """GET /jobs/schedule ``?page&limit`` → ``{scheduledJobs, pagination}``."""
        items, pagination = paginate(selectors.schedule_list(user=request.user), request.query_params)
        return Response(ScheduleListSerializer({"scheduledJobs": items, "pagination": pagination}).data)

    @extend_schema(
        summary="Create a schedule",
        request=ScheduleWriteSerializer,
        responses={201: ScheduleSerializer, **errors(409)},
        examples=_SCHEDULE_EXAMPLES,
        description="409 if schedulerId is already one of yours.",
    )
    def create(self, request):
        """POST /jobs/schedule ``{name, data, schedule, options?, schedulerId?, queue?, flow?}`` → 201."""
        return schedule_created(request)

    @extend_schema(summary="One of your schedules", responses={200: ScheduleSerializer})
    def retrieve(self, request, scheduler_id=None):
        """GET /jobs/schedule/{schedulerId} → the schedule with ``state``, ``runCount``, ``upcoming`` ..."""
        return Response(_schedule(self._get(request, scheduler_id)))

    @extend_schema(
        summary="Create or replace a schedule (upsert by id)",
        request=ScheduleWriteSerializer,
        responses={200: ScheduleSerializer, 201: ScheduleSerializer, **errors(409)},
        description="BullMQ's upsert: 201 created, 200 replaced.",
    )
    def update(self, request, scheduler_id=None):
        """PUT /jobs/schedule/{schedulerId}: upsert; 201 created or 200 replaced."""
        ser = ScheduleWriteSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        services.check_scheduler_id(scheduler_id)
        row, created = services.schedule_replace(
            owner=request.user, scheduler_id=scheduler_id, definition=_definition(ser.validated_data)
        )
        return Response(_schedule(row), status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    @extend_schema(
        summary="Change part of a schedule",
        request=SchedulePatchSerializer,
        responses={200: ScheduleSerializer, **errors(409)},
    )
    def partial_update(self, request, scheduler_id=None):
        """PATCH /jobs/schedule/{schedulerId}: any subset of ``{name, data, schedule, options}``."""
        row = self._get(request, scheduler_id)
        if not isinstance(request.data, dict):
            raise DRFValidationError({"non_field_errors": ["body: must be a JSON object"]})
        return Response(_schedule(services.schedule_update(schedule=row, changes=dict(request.data))))

    @extend_schema(summary="Remove a schedule (its jobs are kept)", responses={200: MessageSerializer})
    def destroy(self, request, scheduler_id=None):
        """DELETE /jobs/schedule/{schedulerId} → 200 ``{message}``; its jobs are kept."""
        services.schedule_delete(schedule=self._get(request, scheduler_id))
        return Response({"message": "Scheduled job removed successfully"})

    def _state_action(self, request, scheduler_id, service):
        return Response(_schedule(service(schedule=self._get(request, scheduler_id))))

    @extend_schema(
        summary="Pause a schedule",
        request=None,
        responses={200: ScheduleSerializer, **errors(409)},
        description="409 if it has ended.",
    )
    @action(detail=True, methods=["post"])
    def pause(self, request, scheduler_id=None):
        """POST .../pause → the schedule, ``state: paused``; 409 if it has ended."""
        return self._state_action(request, scheduler_id, services.schedule_pause)

    @extend_schema(
        summary="Resume a schedule",
        request=None,
        responses={200: ScheduleSerializer, **errors(409)},
        description="409 if it has ended. Fires missed while paused are not made up.",
    )
    @action(detail=True, methods=["post"])
    def resume(self, request, scheduler_id=None):
        """POST .../resume → the schedule, ``state: active``; 409 if it has ended."""
        return self._state_action(request, scheduler_id, services.schedule_resume)

    @extend_schema(
        summary="Run a schedule once now",
        request=None,
        responses={201: TriggerSerializer, **errors(409)},
        description="Cadence and limit unchanged; allowed while paused, 409 once ended.",
    )
    @action(detail=True, methods=["post"])
    def trigger(self, request, scheduler_id=None):
        """POST .../trigger → 201 ``{message, job}``: one run now, cadence and ``limit`` unchanged.

        409 if the schedule has ended; allowed while paused."""
        job = services.schedule_trigger(schedule=self._get(request, scheduler_id))
        return Response(
            TriggerSerializer({"message": "Schedule triggered", "job": job}).data,
            status=status.HTTP_201_CREATED,
        )

    @extend_schema(
        summary="The jobs a schedule created", parameters=PAGE_PARAMETERS, responses={200: JobListSerializer}
    )
    @action(detail=True, methods=["get"])
    def jobs(self, request, scheduler_id=None):
        """GET .../jobs ``?page&limit`` → ``{jobs, pagination}`` created by this schedule, newest first."""
        row = self._get(request, scheduler_id)
        items, pagination = paginate(
            row.jobs.order_by("-id").select_related("schedule"), request.query_params
        )
        return Response(JobListSerializer({"jobs": items, "pagination": pagination}).data)

    @extend_schema(
        summary="Preview fire times without saving",
        request=PreviewRequestSerializer,
        responses={200: PreviewSerializer},
        examples=[
            OpenApiExample(
                "Cron across the spring-forward night in Berlin",
                value={
                    "schedule": {"cron": "30 2 * * *", "tz": "Europe/Berlin"},
                    "count": 3,
                    "from": "2028-03-24T12:00:00Z",
                },
                request_only=True,
            )
        ],
    )
    @action(detail=False, methods=["post"])
    def preview(self, request):
        """POST /jobs/schedule/preview ``{schedule, count?, from?}`` → ``{description, upcoming}``,
        nothing saved."""
        ser = PreviewRequestSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        count, after, now = services.preview_window(
            count=ser.validated_data["count"], after=request.data.get("from")
        )
        timing = timing_parse(ser.validated_data["schedule"], now=now)
        body = services.schedule_preview(schedule=timing, count=count, after=after)
        return Response(PreviewSerializer(body).data)
