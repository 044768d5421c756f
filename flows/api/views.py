"""``/flows`` (docs/flows.md; the original's ``src/routes/flow.ts``). Thin: parse, call a service or
selector, answer with a serializer. Every route checks the owner: another user's flow is a 404 (the
original's ``GET /flows/:flowId`` did not check)."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError as DRFValidationError
from rest_framework.response import Response

from config.openapi.schema import errors
from config.serializers import MessageSerializer

from .. import selectors, services
from ..events import flow_payload
from ..models import FlowStatus
from .serializers import (
    FlowCreatedSerializer,
    FlowCreateSerializer,
    FlowDeletedSerializer,
    FlowSerializer,
    FlowTreeSerializer,
    FlowUpdateSerializer,
)

_LIST_PARAMETERS = [
    OpenApiParameter(
        "status",
        {"type": "string", "enum": [*FlowStatus.values, ""]},
        OpenApiParameter.QUERY,
        description="Only flows in this status (empty: all).",
    ),
    OpenApiParameter(
        "limit",
        {"type": "integer", "minimum": 1, "maximum": selectors.LIST_LIMIT_MAX},
        OpenApiParameter.QUERY,
        description=f"At most this many flows, newest first (default and maximum "
        f"{selectors.LIST_LIMIT_MAX}).",
    ),
]


class FlowViewSet(viewsets.ViewSet):
    """``/flows``: create, list, read, cancel and delete the caller's flows."""

    lookup_value_regex = r"[^/]+"

    @extend_schema(
        summary="Create a flow (a tree of jobs)",
        request=FlowCreateSerializer,
        responses={201: FlowCreatedSerializer, **errors(409, 413)},
        description="Every node becomes a job in one transaction: leaves start waiting, parents "
        "waiting-children and run when their children are done, reading their values. 400 names the "
        "bad node's field by path (children.1.children.0.name) and nothing is stored; 409 for an "
        "opts.jobId you already used.",
    )
    def create(self, request):
        """POST /flows CreateFlowRequest → 201 ``{flowId, message: "Flow created successfully", flow}``."""
        flow = services.flow_create(owner=request.user, tree=request.data)
        body = {"flowId": flow.flow_id, "message": services.FLOW_MESSAGE_CREATED, "flow": flow_payload(flow)}
        return Response(FlowCreatedSerializer(body).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Your flows, newest first",
        parameters=_LIST_PARAMETERS,
        responses={200: FlowSerializer(many=True)},
    )
    def list(self, request):
        """GET /flows ``?status&limit`` → a JSON array of FlowResponse (as the original)."""
        state = request.query_params.get("status") or None
        if state is not None and state not in FlowStatus.values:
            raise DRFValidationError({"status": [f"status: must be one of {', '.join(FlowStatus.values)}"]})
        raw_limit = request.query_params.get("limit") or str(selectors.LIST_LIMIT_MAX)
        if not raw_limit.isdigit() or not 1 <= int(raw_limit) <= selectors.LIST_LIMIT_MAX:
            raise DRFValidationError({"limit": [f"limit: an integer from 1 to {selectors.LIST_LIMIT_MAX}"]})
        flows = selectors.flow_list(user=request.user, status=state)[: int(raw_limit)]
        return Response(FlowSerializer([flow_payload(f) for f in flows], many=True).data)

    @extend_schema(summary="One of your flows", responses={200: FlowSerializer})
    def retrieve(self, request, pk=None):
        """GET /flows/{flowId} → FlowResponse."""
        flow = selectors.flow_get(user=request.user, flow_id=pk)
        return Response(FlowSerializer(flow_payload(flow)).data)

    @extend_schema(summary="A flow's tree of jobs", responses={200: FlowTreeSerializer})
    @action(detail=True, methods=["get"])
    def jobs(self, request, pk=None):
        """GET /flows/{flowId}/jobs → the flow as its create request, each node with ``jobId``, ``state``,
        ``progress``, ``result``, ``failedReason`` and ``pendingChildren``."""
        flow = selectors.flow_get(user=request.user, flow_id=pk)
        return Response(FlowTreeSerializer(selectors.flow_tree(flow=flow)).data)

    @extend_schema(
        summary="Report on a flow's job (the original's external update)",
        request=FlowUpdateSerializer,
        responses={200: MessageSerializer},
        parameters=[OpenApiParameter("jobId", OpenApiTypes.STR, OpenApiParameter.PATH)],
        description="Only progress (0-100 or an object) of an active job is applied; status, result, "
        "error and the rest are owned by the runtime and ignored. 404 for a job not in the flow.",
    )
    @action(detail=True, methods=["put"], url_path=r"jobs/(?P<job_id>[^/]+)")
    def update_job(self, request, pk=None, job_id=None):
        """PUT /flows/{flowId}/jobs/{jobId} FlowUpdateRequest → ``{message: "Flow updated successfully"}``."""
        flow = selectors.flow_get(user=request.user, flow_id=pk)
        job = selectors.flow_job_get(user=request.user, flow=flow, job_id=job_id)
        ser = FlowUpdateSerializer(data=request.data)
        ser.is_valid(raise_exception=True)
        services.flow_job_update(flow=flow, job=job, progress=ser.validated_data.get("progress"))
        return Response(MessageSerializer({"message": "Flow updated successfully"}).data)

    @extend_schema(
        summary="Cancel a flow",
        request=None,
        responses={200: FlowSerializer, **errors(409)},
        description="Every unfinished job, root first: waiting ones end cancelled, active ones are asked "
        "to stop. 409 when nothing is left to cancel.",
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        """POST /flows/{flowId}/cancel → the FlowResponse after the cancel."""
        flow = selectors.flow_get(user=request.user, flow_id=pk)
        return Response(FlowSerializer(flow_payload(services.flow_cancel(flow=flow))).data)

    @extend_schema(summary="Delete a flow and its jobs", responses={200: FlowDeletedSerializer})
    def destroy(self, request, pk=None):
        """DELETE /flows/{flowId} → ``{message, flowId, deletedJobs: {total, successful, failed, details}}``;
        unfinished jobs are cancelled first."""
        flow = selectors.flow_get(user=request.user, flow_id=pk)
        flow_id = flow.flow_id
        done = services.flow_delete(flow=flow)
        body = {
            "message": "Flow deleted successfully",
            "flowId": flow_id,
            "deletedJobs": {
                "total": done.total,
                "successful": done.successful,
                "failed": done.failed,
                "details": done.details,
            },
        }
        return Response(FlowDeletedSerializer(body).data)
