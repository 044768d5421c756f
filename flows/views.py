"""Flow pages for people (server-rendered, owner only; thin: read through ``flows.selectors``, write
through ``flows.services``): the list (``/app/flows/``) and one flow's tree (``/app/flows/<flowId>/``)
with each job's live state (``static/js/flow.js`` over the page's ``/ws/jobs/`` socket) and its
cancel and delete buttons."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from config.errors import StateError

from . import selectors, services
from .models import FlowStatus

PAGE_SIZE = 20


@login_required
def flow_list_page(request):
    """GET /app/flows/ ``?status&page``: the user's flows, newest first, 20 a page."""
    status = request.GET.get("status") or ""
    status = status if status in FlowStatus.values else ""
    page = Paginator(selectors.flow_list(user=request.user, status=status or None), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return render(
        request,
        "flows/flow_list.html",
        {
            "page": page,
            "status": status,
            "statuses": FlowStatus.values,
            "query": f"status={status}&" if status else "",
        },
    )


@login_required
def flow_detail_page(request, flow_id: str):
    """GET /app/flows/<flowId>/: the flow's facts and its tree of jobs; another user's flow is a 404."""
    flow = selectors.flow_get(user=request.user, flow_id=flow_id)
    return render(request, "flows/flow_detail.html", {"flow": flow, "tree": selectors.flow_tree(flow=flow)})


@login_required
@require_POST
def flow_action_page(request, flow_id: str, action: str):
    """POST /app/flows/<flowId>/{cancel,delete}/: the API's services; back to the flow (to the list after
    a delete)."""
    if action not in ("cancel", "delete"):
        raise Http404
    flow = selectors.flow_get(user=request.user, flow_id=flow_id)
    if action == "delete":
        done = services.flow_delete(flow=flow)
        messages.success(request, f"Flow {flow_id} deleted with its {done.total} job(s).")
        return redirect("flow-list-page")
    try:
        services.flow_cancel(flow=flow)
        messages.success(request, f"Flow {flow_id} cancelled.")
    except StateError as exc:
        messages.error(request, str(exc))
    return redirect("flow-detail-page", flow_id=flow.flow_id)
