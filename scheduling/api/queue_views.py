"""JobRunner v0.0.2's schedule routes under a named queue (docs/queues.md):
``POST/GET /jobs/{queueName}/schedule`` and ``GET/DELETE /jobs/{queueName}/schedule/{schedulerId}``.

The same services as ``/jobs/schedule``; the path's queue is the queue of the schedule's jobs. An
undeclared queue is the original's 400; a schedule of another queue or user is a 404.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from config.openapi.schema import errors
from config.pagination import PAGE_PARAMETERS, paginate
from config.serializers import MessageSerializer
from jobs.api.queue_views import check_queue

from .. import selectors, services
from .serializers import ScheduleListSerializer, ScheduleSerializer, ScheduleWriteSerializer
from .views import SEED_SCHEDULE_BODY, schedule_created


class QueueSchedulesView(APIView):
    @extend_schema(
        summary="Your schedules of a queue",
        operation_id="queue_schedules_list",
        parameters=[*PAGE_PARAMETERS],
        responses={200: ScheduleListSerializer, **errors(400)},
        description="JobRunner v0.0.2: {scheduledJobs} (each with BullMQ's JobSchedulerJson fields), newest "
        "first, plus pagination.",
        tags=["queues"],
    )
    def get(self, request, queue_name: str):
        """GET /jobs/{queueName}/schedule ``?page&limit`` → ``{scheduledJobs, pagination}``."""
        check_queue(queue_name)
        qs = selectors.schedule_list(user=request.user).filter(queue=queue_name)
        items, pagination = paginate(qs, request.query_params)
        return Response(ScheduleListSerializer({"scheduledJobs": items, "pagination": pagination}).data)

    @extend_schema(
        summary="Create a schedule in a queue",
        operation_id="queue_schedules_create",
                request=ScheduleWriteSerializer,
        responses={201: ScheduleSerializer, **errors(409)},
        examples=[OpenApiExample("The seed's body", value=SEED_SCHEDULE_BODY, request_only=True)],
        description="JobRunner v0.0.2. As POST /jobs/schedule with the queue from the path (a queue in the "
        "body is ignored); the answer's schedulerId is the original's whole answer.",
        tags=["queues"],
    )
    def post(self, request, queue_name: str):
        """POST /jobs/{queueName}/schedule ``{name, data, schedule, options?, schedulerId?}`` → 201."""
        return schedule_created(request, queue=check_queue(queue_name))


class QueueScheduleView(APIView):
    def _get(self, request, queue_name: str, scheduler_id: str):
        return selectors.schedule_get_in_queue(
            user=request.user, queue=check_queue(queue_name), scheduler_id=scheduler_id
        )

    @extend_schema(
        summary="One of your schedules of a queue",
        operation_id="queue_schedules_retrieve",
        responses={200: ScheduleSerializer, **errors(400)},
        description="JobRunner v0.0.2 (BullMQ's JobSchedulerJson fields and ours). 404 for another queue's "
        "or user's schedule.",
        tags=["queues"],
    )
    def get(self, request, queue_name: str, scheduler_id: str):
        """GET /jobs/{queueName}/schedule/{schedulerId} → the schedule."""
        return Response(ScheduleSerializer(self._get(request, queue_name, scheduler_id)).data)

    @extend_schema(
        summary="Remove a schedule of a queue (its jobs are kept)",
        operation_id="queue_schedules_destroy",
        responses={200: MessageSerializer, **errors(400)},
        tags=["queues"],
    )
    def delete(self, request, queue_name: str, scheduler_id: str):
        """DELETE /jobs/{queueName}/schedule/{schedulerId} → 200 ``{message}``."""
        services.schedule_delete(schedule=self._get(request, queue_name, scheduler_id))
        return Response({"message": "Scheduled job removed successfully"})
