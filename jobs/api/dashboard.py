"""``GET /dashboard/stats`` (the React client's landing page), ``GET /admin/dashboard`` and the API's
answer at ``GET /``: the original's routes, counted from our tables for the caller only.

The original counted by scanning every job of its queue; here each number is one indexed
aggregate over the caller's rows.
"""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth import get_user
from django.db.models import Count, Min, Q
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from config.health import TextWhateverIsAccepted
from config.serializers import MessageSerializer, UtcDateTimeField
from scheduling.models import Schedule, ScheduleState
from webhooks.models import Delivery, DeliveryState, Webhook

from .. import queue_control
from ..models import Job, JobState
from ..views import dashboard_page

RECENT_JOBS = 5


class StateCountsSerializer(serializers.Serializer):
    """Counts of jobs by BullMQ state (``paused``: waiting in a paused queue, not counted in ``waiting``;
    ``waiting-children``: a flow's parent) and ``cancelled`` (ours)."""

    total = serializers.IntegerField()
    active = serializers.IntegerField()
    delayed = serializers.IntegerField()
    completed = serializers.IntegerField()
    failed = serializers.IntegerField()
    paused = serializers.IntegerField()
    waiting = serializers.IntegerField()
    cancelled = serializers.IntegerField()

    def get_fields(self):
        fields = super().get_fields()
        fields["waiting-children"] = serializers.IntegerField(source="waiting_children")
        return fields


class JobStatsSerializer(StateCountsSerializer):
    """The caller's jobs by state (:class:`StateCountsSerializer`); ``completionRate`` is completed /
    total in percent, one decimal."""

    completionRate = serializers.FloatField()  # noqa: N815

    class Meta:
        ref_name = "JobStats"


class RecentJobSerializer(serializers.Serializer):
    """``{id, name, status, createdAt, completedAt, duration (s)}`` of one of the newest jobs."""

    id = serializers.CharField(source="public_id")
    name = serializers.CharField()
    status = serializers.ChoiceField(source="state", choices=JobState.choices)
    createdAt = UtcDateTimeField(source="created_at")  # noqa: N815
    completedAt = UtcDateTimeField(source="finished_at", allow_null=True)  # noqa: N815
    duration = serializers.SerializerMethodField(help_text="Seconds from start to finish, if finished.")

    class Meta:
        ref_name = "RecentJob"

    def get_duration(self, job) -> int | None:
        if job.finished_at and job.started_at:
            return round((job.finished_at - job.started_at).total_seconds())
        return None


class SchedulerStatsSerializer(serializers.Serializer):
    activeSchedules = serializers.IntegerField()  # noqa: N815
    totalSchedules = serializers.IntegerField()  # noqa: N815
    nextScheduledJob = UtcDateTimeField(allow_null=True, help_text="The earliest next fire time.")  # noqa: N815

    class Meta:
        ref_name = "SchedulerStats"


class WebhookStatsSerializer(serializers.Serializer):
    """Webhooks and their finished deliveries (real counts; the original's were placeholders)."""

    totalWebhooks = serializers.IntegerField()  # noqa: N815
    activeWebhooks = serializers.IntegerField()  # noqa: N815
    deliveryRate = serializers.FloatField(
        help_text="Succeeded / finished deliveries in percent (100 if none)."
    )  # noqa: N815
    totalDeliveries = serializers.IntegerField()  # noqa: N815
    failedDeliveries = serializers.IntegerField()  # noqa: N815

    class Meta:
        ref_name = "WebhookStats"


# queue_control's state names → the serializer's field sources (a Python name for waiting-children).
QUEUE_STAT_KEYS = {JobState.WAITING_CHILDREN.value: "waiting_children"}


class QueueStatsSerializer(StateCountsSerializer):
    """One named queue's counts of the caller's jobs (the original HEAD's ``queueStats`` entry)."""

    name = serializers.CharField()

    class Meta:
        ref_name = "QueueStats"


class DashboardStatsSerializer(serializers.Serializer):
    jobStats = JobStatsSerializer()  # noqa: N815
    recentJobs = RecentJobSerializer(many=True)  # noqa: N815
    queueStats = QueueStatsSerializer(many=True, help_text="Per named queue (GET /queues).")  # noqa: N815
    schedulerStats = SchedulerStatsSerializer()  # noqa: N815
    webhookStats = WebhookStatsSerializer()  # noqa: N815

    class Meta:
        ref_name = "DashboardStats"


def dashboard_stats(user) -> dict:
    """The numbers of :class:`DashboardStatsSerializer` for ``user`` (six aggregate queries).

    ``queueStats`` is the original HEAD's: per declared queue ``{name, total, <BullMQ state>: n}`` of the
    user's jobs (``paused``: waiting in a paused queue); ``jobStats`` sums them (jobs of a queue no
    longer declared count in ``jobStats`` only)."""
    by_queue = queue_control.queue_counts(user=user)
    counts = dict(Job.objects.owned_by(user).values_list("state").annotate(n=Count("id")).order_by())
    paused = sum(c["paused"] for c in by_queue.values())
    total = sum(counts.values())
    completed = counts.get(JobState.COMPLETED, 0)
    job_stats = {state: counts.get(state, 0) for state in JobState.values}
    job_stats.update(
        total=total,
        paused=paused,
        waiting=job_stats[JobState.WAITING] - paused,
        waiting_children=counts.get(JobState.WAITING_CHILDREN, 0),
        completionRate=round(completed * 100 / total, 1) if total else 0.0,
    )
    queue_stats = [
        {"name": name, "total": sum(c.values()), **{QUEUE_STAT_KEYS.get(k, k): v for k, v in c.items()}}
        for name, c in by_queue.items()
    ]
    recent = list(Job.objects.owned_by(user).order_by("-id")[:RECENT_JOBS])
    schedules = Schedule.objects.owned_by(user).aggregate(
        total=Count("id"),
        active=Count("id", filter=Q(state=ScheduleState.ACTIVE)),
        next=Min("next_fire_at", filter=Q(state=ScheduleState.ACTIVE)),
    )
    hooks = Webhook.objects.owned_by(user).aggregate(
        total=Count("id"), active=Count("id", filter=Q(active=True))
    )
    finished = Delivery.objects.filter(webhook__owner=user).aggregate(
        succeeded=Count("id", filter=Q(state=DeliveryState.SUCCEEDED)),
        failed=Count("id", filter=Q(state=DeliveryState.FAILED)),
    )
    done = finished["succeeded"] + finished["failed"]
    return {
        "jobStats": job_stats,
        "recentJobs": recent,
        "queueStats": queue_stats,
        "schedulerStats": {
            "activeSchedules": schedules["active"],
            "totalSchedules": schedules["total"],
            "nextScheduledJob": schedules["next"],
        },
        "webhookStats": {
            "totalWebhooks": hooks["total"],
            "activeWebhooks": hooks["active"],
            "deliveryRate": round(finished["succeeded"] * 100 / done, 1) if done else 100.0,
            "totalDeliveries": done,
            "failedDeliveries": finished["failed"],
        },
    }


class DashboardStatsView(APIView):
    """GET /dashboard/stats → ``{jobStats, recentJobs, queueStats, schedulerStats, webhookStats}`` of the
    caller."""

    @extend_schema(summary="Your dashboard numbers", responses={200: DashboardStatsSerializer}, tags=["jobs"])
    def get(self, request):
        return Response(DashboardStatsSerializer(dashboard_stats(request.user)).data)


class AdminDashboardSerializer(serializers.Serializer):
    message = serializers.CharField()
    admin = serializers.CharField(help_text="Django admin (staff).")
    queues = serializers.CharField(help_text="The queues board (staff).")

    class Meta:
        ref_name = "AdminDashboard"


class AdminDashboardView(APIView):
    """GET /admin/dashboard → ``{message, admin, queues}``: the original's placeholder answer for any
    authenticated user, with where the real boards are (Django admin and its Queues page, staff only)."""

    @extend_schema(
        summary="Where the admin boards are", responses={200: AdminDashboardSerializer}, tags=["operations"]
    )
    def get(self, request):
        body = {"message": "Admin dashboard", "admin": "/admin/", "queues": "/admin/queues/"}
        return Response(AdminDashboardSerializer(body).data)


class ApiRootView(APIView):
    """GET /: the original's ``{"message": "API is running"}`` for an API client (an ``Accept`` header
    without ``text/html``: ``*/*`` from curl and fetch, ``application/json``, and no session cookie);
    the dashboard page for a browser (whose ``Accept`` names ``text/html``), for a signed-in page's own
    fetches (the session cookie: the live refresh asks with ``*/*``) and for a request without
    ``Accept``."""

    permission_classes = [AllowAny]
    authentication_classes: list = []
    content_negotiation_class = TextWhateverIsAccepted  # never a 406: a page may be the answer

    @extend_schema(
        summary="The API is up (JSON for API clients)",
        responses={200: MessageSerializer},
        tags=["operations"],
    )
    def get(self, request):
        page = request._request
        accept = page.headers.get("Accept")
        if accept is None or "text/html" in accept or settings.SESSION_COOKIE_NAME in page.COOKIES:
            # DRF set the Django request's user to its own (none: no authenticators here); the page
            # needs the session's, as Django's AuthenticationMiddleware had it.
            page.user = get_user(page)
            return dashboard_page(page)
        return Response(MessageSerializer({"message": "API is running"}).data)
