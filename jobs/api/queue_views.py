"""JobRunner v0.0.2's routes under a named queue (docs/queues.md): ``GET /queues``,
``POST /jobs/{queueName}/submit``, ``GET /jobs/{queueName}`` (answered by ``JobViewSet.retrieve`` when
the segment is a declared queue), ``GET/DELETE /jobs/{queueName}/job/{jobId}`` and
``POST /jobs/{queueName}/job/{jobId}/cancel`` (the HEAD React app calls it). The schedule routes under a
queue are in ``scheduling.api.queue_views``.

Like the original's ``validateQueue`` middleware, an undeclared queue is a 400 ``Queue 'x' is not a
valid queue.``; a job of another queue, or another user's job, is a 404 (the original answered 403 for
another user's job, which tells that the id exists).
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.exceptions import ValidationError as DRFValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from config.openapi.schema import errors
from config.pagination import PAGE_PARAMETERS, paginate
from config.serializers import envelope

from .. import actions, named_queues, queue_control, selectors
from .serializers import JobDeletedSerializer, JobDetailSerializer, JobSerializer, JobSubmitSerializer


def check_queue(queue_name: str) -> str:
    """``queue_name`` if declared; else the original's 400 ``Queue 'x' is not a valid queue.`` (the
    ``errors`` name the field ``queueName`` and list the declared queues)."""
    if queue_name not in named_queues.declared():
        message = f"Queue '{queue_name}' is not a valid queue."
        raise DRFValidationError(
            {
                "message": message,
                "errors": {
                    "queueName": [
                        f"queueName: {message} Declared queues: {', '.join(named_queues.declared())}"
                    ]
                },
            }
        )
    return queue_name




_STATE_HELP = (
    "BullMQ's state: waiting, paused (waiting in a paused queue), active, delayed, completed, failed, "
    "waiting-children, or cancelled (ours)."
)


def _bullmq_state(serializer: serializers.Serializer, job) -> str:
    """``paused`` for a waiting job of a paused queue (the serializer's context ``paused``: the paused
    queue names, read once per response), else the job's state."""
    return queue_control.bullmq_state(job, serializer.context.get("paused"))


class QueueJobSerializer(JobDetailSerializer):
    """One job of a queue (v0.0.2's ``{id, name, state, progress, result, failedReason, timestamp}``
    plus every field of GET /jobs/{jobId}), ``state`` in BullMQ's words."""

    state = serializers.SerializerMethodField(help_text=_STATE_HELP)  # type: ignore[assignment]

    class Meta:
        ref_name = "QueueJob"

    @extend_schema_field({"type": "string"})
    def get_state(self, job) -> str:
        return _bullmq_state(self, job)


class QueueJobListItemSerializer(JobSerializer):
    """A job of a queue as listed, ``state`` in BullMQ's words."""

    state = serializers.SerializerMethodField(help_text=_STATE_HELP)  # type: ignore[assignment]

    class Meta:
        ref_name = "QueueJobListItem"

    @extend_schema_field({"type": "string"})
    def get_state(self, job) -> str:
        return _bullmq_state(self, job)


QueueJobListSerializer = envelope(
    "QueueJobList", "jobs", QueueJobListItemSerializer(many=True), paginated=True
)


class QueueInfoSerializer(serializers.Serializer):
    name = serializers.CharField()
    paused = serializers.BooleanField()
    limiter = serializers.DictField(
        allow_null=True,
        child=serializers.IntegerField(),
        help_text="BullMQ's {max, duration (ms)}: at most max jobs start per duration; null: no limit.",
    )

    class Meta:
        ref_name = "QueueInfo"


class QueueListSerializer(serializers.Serializer):
    """``{queues: [name, ...]}`` (the original's answer) plus ``details``."""

    queues = serializers.ListField(child=serializers.CharField())
    details = QueueInfoSerializer(many=True, help_text="Each queue's pause state and rate limit.")

    class Meta:
        ref_name = "QueueList"


def _context() -> dict:
    return {"paused": set(queue_control.paused_names())}


class QueuesView(APIView):
    @extend_schema(summary="The named queues",
        operation_id="queues_list", responses={200: QueueListSerializer}, tags=["queues"])
    def get(self, request):
        """GET /queues → ``{queues: [name, ...], details: [{name, paused, limiter}]}`` (declared order).
        Queues are shared by every user; pausing and limits are staff's (the Queues board)."""
        states = queue_control.queue_states()
        body = {
            "queues": [s.name for s in states],
            "details": [{"name": s.name, "paused": s.paused, "limiter": s.limiter} for s in states],
        }
        return Response(QueueListSerializer(body).data)


class QueueSubmitView(APIView):
    @extend_schema(
        summary="Submit a job to a queue",
        operation_id="queue_jobs_submit",
                request=JobSubmitSerializer,
        responses={201: QueueJobSerializer, 200: QueueJobSerializer, **errors(413)},
        examples=[
            OpenApiExample("Echo", value={"name": "echo", "data": {"hello": "world"}}, request_only=True)
        ],
        description="JobRunner v0.0.2. As POST /jobs/submit with the queue from the path (a queue in the "
        "body is ignored): 201 the new job (its jobId is the original's whole answer), 200 the existing one "
        "for a repeated options.jobId.",
        tags=["queues"],
    )
    def post(self, request, queue_name: str):
        """POST /jobs/{queueName}/submit ``{name, data, options?}`` → 201 the job."""
        from .views import job_submitted  # views imports this module (GET /jobs/{queueName})

        return job_submitted(
            request, queue=check_queue(queue_name), answer=QueueJobSerializer, context=_context()
        )


QUEUE_LIST_PARAMETERS = [
    *PAGE_PARAMETERS,
    OpenApiParameter(
        "status",
        {"type": "string", "enum": [*selectors.LIST_STATUSES, ""]},
        OpenApiParameter.QUERY,
        description="Only jobs in this BullMQ state (paused: waiting in a paused queue).",
    ),
]


def queue_job_list(request, queue_name: str) -> Response:
    """GET /jobs/{queueName} ``?status&page&limit`` → ``{jobs, pagination}``: the caller's jobs of the
    queue, newest first (served by ``JobViewSet.retrieve`` for a declared queue name)."""
    state = request.query_params.get("status") or request.query_params.get("state")
    if state and state not in selectors.LIST_STATUSES:
        raise DRFValidationError({"status": [f"status: must be one of {', '.join(selectors.LIST_STATUSES)}"]})
    qs = selectors.job_list(
        user=request.user, state=state, name=request.query_params.get("name"), queue=queue_name
    )
    items, pagination = paginate(qs, request.query_params)
    return Response(
        QueueJobListSerializer({"jobs": items, "pagination": pagination}, context=_context()).data
    )


class QueueJobView(APIView):
    @extend_schema(
        summary="One of your jobs in a queue",
        operation_id="queue_jobs_retrieve",
        responses={200: QueueJobSerializer, **errors(400)},
        description="JobRunner v0.0.2. 404 for a job of another queue or another user.",
        tags=["queues"],
    )
    def get(self, request, queue_name: str, job_id: str):
        """GET /jobs/{queueName}/job/{jobId} → the job (``state`` in BullMQ's words)."""
        job = selectors.job_get_in_queue(user=request.user, queue=check_queue(queue_name), job_id=job_id)
        return Response(QueueJobSerializer(job, context=_context()).data)

    @extend_schema(
        summary="Delete one of your jobs in a queue",
        operation_id="queue_jobs_destroy",
        responses={200: JobDeletedSerializer, **errors(400, 409)},
        description="JobRunner v0.0.2: {message, id}. 409 for an active job (BullMQ's rule).",
        tags=["queues"],
    )
    def delete(self, request, queue_name: str, job_id: str):
        """DELETE /jobs/{queueName}/job/{jobId} → ``{message, id}``; 409 for an active job."""
        job = selectors.job_get_in_queue(user=request.user, queue=check_queue(queue_name), job_id=job_id)
        actions.job_delete(job=job)
        return Response(JobDeletedSerializer({"message": "Job deleted successfully", "id": job_id}).data)


class QueueJobCancelView(APIView):
    @extend_schema(
        summary="Cancel one of your jobs in a queue",
        operation_id="queue_jobs_cancel",
        request=None,
        responses={200: QueueJobSerializer, **errors(400, 409)},
        description="What the HEAD React app calls. As POST /jobs/{jobId}/cancel; 409 if already finished.",
        tags=["queues"],
    )
    def post(self, request, queue_name: str, job_id: str):
        """POST /jobs/{queueName}/job/{jobId}/cancel → the job, cancelled (or active with cancelRequested)."""
        job = selectors.job_get_in_queue(user=request.user, queue=check_queue(queue_name), job_id=job_id)
        return Response(QueueJobSerializer(actions.job_cancel(job=job), context=_context()).data)
