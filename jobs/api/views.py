"""Job endpoints (API.md: Jobs). Thin: parse, call a service or selector, answer with a serializer.

The legacy root route ``POST /submit-job`` of the system we port is :meth:`JobViewSet.submit` too
(``config.urls``).
"""

from __future__ import annotations

from django.core.exceptions import ValidationError as DjangoValidationError
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, PolymorphicProxySerializer, extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError as DRFValidationError
from rest_framework.response import Response

from config.exceptions import PayloadTooLarge
from config.openapi.schema import errors
from config.pagination import PAGE_PARAMETERS, paginate

from .. import actions, handlers, named_queues, selectors, submission
from . import queue_views
from .serializers import (
    HandlerListSerializer,
    JobDeletedSerializer,
    JobDetailSerializer,
    JobListSerializer,
    JobSubmitSerializer,
)

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
_LIST_PARAMETERS = [
    *PAGE_PARAMETERS,
    OpenApiParameter(
        "status",
        {"type": "string", "enum": [*selectors.LIST_STATUSES, ""]},
        OpenApiParameter.QUERY,
        description="Only jobs in this state (empty: every state; BullMQ's paused and stuck too: "
        "see jobs.selectors).",
    ),
    OpenApiParameter(
        "name", OpenApiTypes.STR, OpenApiParameter.QUERY, description="Only jobs of this handler."
    ),
]


def job_submitted(request, *, queue: str | None = None, answer=JobDetailSerializer, context=None) -> Response:
    """Parse a ``JobSubmitSerializer`` body, submit the job, answer 201 (200 for a repeated
    ``options.jobId``) with ``answer``. ``queue``: the path's queue (JobRunner v0.0.2), which wins over a
    ``queue`` in the body. 413 when ``data`` exceeds ``JOB_MAX_DATA_BYTES``."""
    ser = JobSubmitSerializer(data=request.data)
    ser.is_valid(raise_exception=True)
    values = {**ser.validated_data, **({"queue": queue} if queue is not None else {})}
    try:
        job, created = submission.job_submit(owner=request.user, **values)
    except submission.PayloadTooLargeError as exc:
        raise PayloadTooLarge(exc.messages[0]) from None
    return Response(
        answer(job, context=context or {}).data,
        status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
    )


def _indexed(index: int, field: str, messages) -> dict[str, list[str]]:
    """``{"<index>.<field>": ["<index>.<field>: message", ...]}``: a bulk item's error, named by index."""
    return {
        f"{index}.{field}": [
            f"{index}.{m}" if str(m).startswith(f"{field}") else f"{index}.{field}: {m}" for m in messages
        ]
    }


class JobViewSet(viewsets.ViewSet):
    """``/jobs``: submit, list, read jobs of the caller. Another user's job is a 404."""

    lookup_value_regex = r"[^/]+"

    @extend_schema(
        summary="Your jobs, newest first", parameters=_LIST_PARAMETERS, responses={200: JobListSerializer}
    )
    def list(self, request):
        """GET /jobs ``?status&name&page&limit`` → ``{jobs, pagination}``, newest first.

        Other query parameters the original's clients send (``search``, ``sortBy``, ...) are ignored.
        """
        state = request.query_params.get("status") or request.query_params.get("state")
        if state and state not in selectors.LIST_STATUSES:
            raise DRFValidationError(
                {"status": [f"status: must be one of {', '.join(selectors.LIST_STATUSES)}"]}
            )
        qs = selectors.job_list(user=request.user, state=state, name=request.query_params.get("name"))
        items, pagination = paginate(qs, request.query_params)
        return Response(JobListSerializer({"jobs": items, "pagination": pagination}).data)

    @extend_schema(
        summary="One of your jobs, or a queue's jobs (JobRunner v0.0.2's GET /jobs/{queueName})",
        parameters=queue_views.QUEUE_LIST_PARAMETERS,
        responses={
            200: PolymorphicProxySerializer(
                component_name="JobOrQueueJobList",
                serializers=[JobDetailSerializer, queue_views.QueueJobListSerializer],
                resource_type_field_name=None,
            ),
            **errors(400),
        },
        description="When {id} is a declared queue name (GET /queues): that queue's jobs of yours, "
        "{jobs, pagination}, newest first, states in BullMQ's words (paused: waiting in a paused queue), "
        "with ?status&page&limit. Otherwise the job of that id (the query parameters are ignored).",
    )
    def retrieve(self, request, pk=None):
        """GET /jobs/{jobId} → the job; GET /jobs/{queueName} → the queue's jobs (docs/queues.md: a
        declared queue name wins over a job id)."""
        if pk in named_queues.declared():
            return queue_views.queue_job_list(request, pk)
        return Response(JobDetailSerializer(selectors.job_get(user=request.user, job_id=pk)).data)

    @extend_schema(
        summary="Submit a job",
        request=JobSubmitSerializer,
        responses={201: JobDetailSerializer, 200: JobDetailSerializer, **errors(413)},
        examples=_SUBMIT_EXAMPLES,
        description="201 the new job, 200 the existing one for a repeated options.jobId. The job "
        "includes jobId, the original's whole answer. Also served at POST /submit-job (legacy).",
    )
    @action(detail=False, methods=["post"])
    def submit(self, request):
        """POST /jobs/submit ``{name, data, options?, queue?}`` → 201 the job (200 for a repeated ``jobId``);
        ``queue``: a declared named queue (default ``JOB_DEFAULT_QUEUE``), else 400 naming ``queue``.

        400 names the bad field or option; 413 when ``data`` exceeds ``JOB_MAX_DATA_BYTES`` (or the
        body exceeds ``DATA_UPLOAD_MAX_MEMORY_SIZE``, refused before any view: ``config.exceptions``).
        """
        return job_submitted(request)

    @extend_schema(
        summary="Submit many jobs at once (BullMQ's addBulk)",
        request=JobSubmitSerializer(many=True),
        responses={201: JobDetailSerializer(many=True)},
        description=f"1 to {submission.BULK_MAX_ITEMS} items {{name, data, options}}, validated as a whole: "
        "400 names each bad item by index (\"3.name\", \"0.options\") and nothing is stored. 201 the jobs "
        "in order, each as POST /jobs/submit answers it; an item with an options.jobId already used "
        "answers that existing job. The jobs travel to the workers in batches (docs/runtime.md).",
    )
    @action(detail=False, methods=["post"], url_path="submit/bulk")
    def submit_bulk(self, request):
        """POST /jobs/submit/bulk ``[{name, data, options?, queue?}, ...]`` → 201 ``[job, ...]`` in order."""
        items = request.data
        if not isinstance(items, list) or not 1 <= len(items) <= submission.BULK_MAX_ITEMS:
            raise DRFValidationError(
                {"body": [f"body: a list of 1 to {submission.BULK_MAX_ITEMS} jobs {{name, data, options}}"]}
            )
        ser = JobSubmitSerializer(data=items, many=True)
        if not ser.is_valid():
            raw = ser.errors
            errors: dict[str, list[str]] = {}
            for index, item_errors in raw.items() if isinstance(raw, dict) else enumerate(raw):
                if isinstance(item_errors, dict):
                    for field, messages in item_errors.items():
                        errors.update(_indexed(index, field, messages))
                elif item_errors:  # not an object at all
                    errors.update(_indexed(index, "item", ["item: must be an object {name, data, options}"]))
            # The service's checks (handler names, data size and schema) for the other items, so that
            # one answer names every bad item.
            bad = {key.split(".", 1)[0] for key in errors}
            for index, item in enumerate(items):
                if str(index) not in bad and isinstance(item, dict):
                    try:
                        submission.validate_job_input(
                            name=item.get("name"), data=item.get("data"), options=item.get("options")
                        )
                        named_queues.validate(item.get("queue"))
                    except DjangoValidationError as exc:
                        for field, messages in exc.message_dict.items():
                            errors.update(_indexed(index, field, messages))
            raise DRFValidationError(errors)
        try:
            pairs = submission.jobs_submit_bulk(owner=request.user, items=ser.validated_data)
        except DjangoValidationError as exc:
            raise DRFValidationError(exc.message_dict) from None
        return Response(
            JobDetailSerializer([job for job, _ in pairs], many=True).data, status=status.HTTP_201_CREATED
        )

    @extend_schema(summary="The registered handlers", responses={200: HandlerListSerializer})
    @action(detail=False, methods=["get"])
    def handlers(self, request):
        """GET /jobs/handlers → ``{handlers: [{name, description, schema}]}``."""
        return Response(HandlerListSerializer({"handlers": handlers.all_handlers()}).data)

    @extend_schema(
        summary="Delete a job that is not active",
        responses={200: JobDeletedSerializer, **errors(409)},
        description="409 for an active job (BullMQ's rule); cancel it first.",
    )
    def destroy(self, request, pk=None):
        """DELETE /jobs/{jobId} → 200 ``{message, id}``; 409 for an active job."""
        job = selectors.job_get(user=request.user, job_id=pk)
        actions.job_delete(job=job)
        return Response(JobDeletedSerializer({"message": "Job deleted successfully", "id": str(pk)}).data)

    @extend_schema(
        summary="Cancel a job",
        request=None,
        responses={200: JobDetailSerializer, **errors(409)},
        description="Waiting/delayed: cancelled at once. Active: cancelRequested, cancelled at "
        "the handler's next check. 409 if already finished.",
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        """POST /jobs/{jobId}/cancel → the job: ``cancelled``, or still ``active`` with ``cancelRequested``.

        409 if the job is already finished.
        """
        return self._act(actions.job_cancel, pk)

    @extend_schema(
        summary="Retry a failed or cancelled job",
        request=None,
        responses={200: JobDetailSerializer, **errors(409)},
        description="409 unless failed or cancelled.",
    )
    @action(detail=True, methods=["post"])
    def retry(self, request, pk=None):
        """POST /jobs/{jobId}/retry → the job, ``waiting`` again; 409 unless it is failed or cancelled."""
        return self._act(actions.job_retry, pk)

    @extend_schema(
        summary="Run a delayed job now",
        request=None,
        responses={200: JobDetailSerializer, **errors(409)},
        description="BullMQ's promote: a delayed job (a delay or a retry's backoff) becomes waiting at once. "
        "409 in any other state.",
    )
    @action(detail=True, methods=["post"])
    def promote(self, request, pk=None):
        """POST /jobs/{jobId}/promote → the job, ``waiting`` now (BullMQ's promote); 409 unless delayed."""
        return self._act(actions.job_promote, pk)

    def _act(self, service, pk):
        job = selectors.job_get(user=self.request.user, job_id=pk)
        return Response(JobDetailSerializer(service(job=job)).data)
