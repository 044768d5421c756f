"""Schedule endpoints (API.md: Scheduled jobs). Thin: parse, call a service or selector, shape."""

from __future__ import annotations

from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError as DRFValidationError
from rest_framework.response import Response

from config.exceptions import Conflict
from config.pagination import paginate
from jobs.api.serializers import job_to_dict

from .. import selectors, services
from .serializers import PreviewSerializer, ScheduleWriteSerializer, schedule_to_dict


class ScheduleViewSet(viewsets.ViewSet):
    """``/jobs/schedule``: the caller's schedules. Another user's schedule is a 404 on every route."""

    lookup_field = "scheduler_id"
    lookup_value_regex = r"[^/]+"

    def _get(self, request, scheduler_id):
        return selectors.schedule_get(user=request.user, scheduler_id=scheduler_id)

    def list(self, request):
        """GET /jobs/schedule ``?page&limit`` → ``{scheduledJobs, pagination}``."""
        items, pagination = paginate(selectors.schedule_list(user=request.user), request.query_params)
        return Response({"scheduledJobs": [schedule_to_dict(s) for s in items], "pagination": pagination})

    def create(self, request):
        """POST /jobs/schedule ``{name, data, schedule, options?, schedulerId?}`` → 201 the schedule."""
        ser = ScheduleWriteSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        v = ser.validated_data
        try:
            row = services.schedule_create(
                owner=request.user,
                name=v["name"],
                data=v["data"],
                schedule=v["schedule"],
                options=v["options"],
                scheduler_id=v.get("schedulerId"),
            )
        except services.ScheduleExists as exc:
            raise Conflict(str(exc)) from None
        return Response(schedule_to_dict(row), status=status.HTTP_201_CREATED)

    def retrieve(self, request, scheduler_id=None):
        """GET /jobs/schedule/{schedulerId} → the schedule with ``state``, ``runCount``, ``next`` ..."""
        return Response(schedule_to_dict(self._get(request, scheduler_id)))

    def update(self, request, scheduler_id=None):
        """PUT /jobs/schedule/{schedulerId}: upsert; 201 created or 200 replaced."""
        ser = ScheduleWriteSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        v = ser.validated_data
        row, created = services.schedule_replace(
            owner=request.user,
            scheduler_id=scheduler_id,
            name=v["name"],
            data=v["data"],
            schedule=v["schedule"],
            options=v["options"],
        )
        return Response(
            schedule_to_dict(row), status=status.HTTP_201_CREATED if created else status.HTTP_200_OK
        )

    def partial_update(self, request, scheduler_id=None):
        """PATCH /jobs/schedule/{schedulerId}: any subset of ``{name, data, schedule, options}``."""
        row = self._get(request, scheduler_id)
        if not isinstance(request.data, dict):
            raise DRFValidationError({"non_field_errors": ["body: must be a JSON object"]})
        return Response(schedule_to_dict(services.schedule_update(schedule=row, changes=dict(request.data))))

    def destroy(self, request, scheduler_id=None):
        """DELETE /jobs/schedule/{schedulerId} → 200 ``{message}``; its jobs are kept."""
        services.schedule_delete(schedule=self._get(request, scheduler_id))
        return Response({"message": "Scheduled job removed successfully"})

    def _state_action(self, request, scheduler_id, service):
        try:
            row = service(schedule=self._get(request, scheduler_id))
        except services.ScheduleStateError as exc:
            raise Conflict(str(exc)) from None
        return Response(schedule_to_dict(row))

    @action(detail=True, methods=["post"])
    def pause(self, request, scheduler_id=None):
        """POST .../pause → the schedule, ``state: paused``; 409 if it has ended."""
        return self._state_action(request, scheduler_id, services.schedule_pause)

    @action(detail=True, methods=["post"])
    def resume(self, request, scheduler_id=None):
        """POST .../resume → the schedule, ``state: active``; 409 if it has ended."""
        return self._state_action(request, scheduler_id, services.schedule_resume)

    @action(detail=True, methods=["post"])
    def trigger(self, request, scheduler_id=None):
        """POST .../trigger → 201 ``{message, job}``: one run now, cadence and ``limit`` unchanged.

        409 if the schedule has ended; allowed while paused."""
        try:
            job = services.schedule_trigger(schedule=self._get(request, scheduler_id))
        except services.ScheduleStateError as exc:
            raise Conflict(str(exc)) from None
        return Response(
            {"message": "Schedule triggered", "job": job_to_dict(job)}, status=status.HTTP_201_CREATED
        )

    @action(detail=True, methods=["get"])
    def jobs(self, request, scheduler_id=None):
        """GET .../jobs ``?page&limit`` → ``{jobs, pagination}`` created by this schedule, newest first."""
        row = self._get(request, scheduler_id)
        items, pagination = paginate(
            row.jobs.order_by("-id").select_related("schedule"), request.query_params
        )
        return Response(
            {"jobs": [job_to_dict(j, include_stacktrace=False) for j in items], "pagination": pagination}
        )

    @action(detail=False, methods=["post"])
    def preview(self, request):
        """POST /jobs/schedule/preview ``{schedule, count?, from?}`` → ``{description, next}`` (unsaved)."""
        ser = PreviewSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        body = services.schedule_preview(
            spec=ser.validated_data["schedule"],
            count=ser.validated_data["count"],
            after=request.data.get("from"),
        )
        return Response(body)
