"""Job endpoints (API.md: Jobs). Thin: parse, call a service or selector, shape the answer."""

from __future__ import annotations

from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError as DRFValidationError
from rest_framework.response import Response

from config.exceptions import Conflict, PayloadTooLarge
from config.pagination import paginate

from .. import handlers, selectors, services
from ..models import JobState
from .serializers import JobSubmitSerializer, job_to_dict


class JobViewSet(viewsets.ViewSet):
    """``/jobs``: submit, list, read jobs of the caller. Another user's job is a 404."""

    lookup_value_regex = r"[^/]+"

    def list(self, request):
        """GET /jobs ``?status&name&page&limit`` → ``{jobs, pagination}``, newest first."""
        state = request.query_params.get("status") or request.query_params.get("state")
        if state and state not in JobState.values:
            raise DRFValidationError({"status": [f"status: must be one of {', '.join(JobState.values)}"]})
        qs = selectors.job_list(user=request.user, state=state, name=request.query_params.get("name"))
        items, pagination = paginate(qs, request.query_params)
        jobs = [job_to_dict(j, include_stacktrace=False) for j in items]
        return Response({"jobs": jobs, "pagination": pagination})

    def retrieve(self, request, pk=None):
        """GET /jobs/{jobId} → the job."""
        return Response(job_to_dict(selectors.job_get(user=request.user, job_id=pk)))

    @action(detail=False, methods=["post"])
    def submit(self, request):
        """POST /jobs/submit ``{name, data, options?}`` → 201 the job (200 for a repeated ``jobId``).

        400 names the bad field or option; 413 when ``data`` exceeds ``JOB_MAX_DATA_BYTES`` (or the
        body exceeds ``DATA_UPLOAD_MAX_MEMORY_SIZE``, refused before any view: ``config.exceptions``).
        """
        ser = JobSubmitSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        try:
            job, created = services.job_submit(owner=request.user, **ser.validated_data)
        except services.PayloadTooLargeError as exc:
            raise PayloadTooLarge(exc.messages[0]) from None
        return Response(job_to_dict(job), status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    @action(detail=False, methods=["get"])
    def handlers(self, request):
        """GET /jobs/handlers → ``{handlers: [{name, description, schema}]}``."""
        return Response(
            {
                "handlers": [
                    {"name": h.name, "description": h.description, "schema": h.schema}
                    for h in handlers.all_handlers()
                ]
            }
        )

    def destroy(self, request, pk=None):
        """DELETE /jobs/{jobId} → 200 ``{message}``; 409 unless the job is finished."""
        job = selectors.job_get(user=request.user, job_id=pk)
        try:
            services.job_delete(job=job)
        except services.JobStateConflict as exc:
            raise Conflict(str(exc)) from None
        return Response({"message": f"job {pk} deleted"})

    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        """POST /jobs/{jobId}/cancel → the job: ``cancelled``, or still ``active`` with ``cancelRequested``.

        409 if the job is already finished.
        """
        return self._act(services.job_cancel, pk)

    @action(detail=True, methods=["post"])
    def retry(self, request, pk=None):
        """POST /jobs/{jobId}/retry → the job, ``waiting`` again; 409 unless it is failed or cancelled."""
        return self._act(services.job_retry, pk)

    @action(detail=True, methods=["post"])
    def promote(self, request, pk=None):
        """POST /jobs/{jobId}/promote → the job, ``waiting`` now (BullMQ's promote); 409 unless delayed."""
        return self._act(services.job_promote, pk)

    def _act(self, service, pk):
        job = selectors.job_get(user=self.request.user, job_id=pk)
        try:
            job = service(job=job)
        except services.JobStateConflict as exc:
            raise Conflict(str(exc)) from None
        return Response(job_to_dict(job))
