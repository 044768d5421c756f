"""Root URLs. API paths follow the system we port and work with and without a trailing slash.

Issue 15: the original's root routes (``POST /register``, ``/login``, ``/logout``, ``/refresh-token``,
``/submit-job``, ``/request-password-reset``, ``/reset-password``; ``GET /`` for an API client),
``/api-keys``, ``/dashboard/stats`` and ``/admin/dashboard`` are the same views as their ``/auth/...``
and ``/jobs/...`` counterparts. Without a trailing slash ``/login`` and ``/register`` are the API; with
one (``/login/``, ``/register/``) they are the pages for people.
"""

from django.contrib import admin
from django.http import JsonResponse
from django.shortcuts import render
from django.urls import include, path, re_path
from django.views.generic import RedirectView
from drf_spectacular.renderers import OpenApiJsonRenderer2
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from accounts import api as accounts_api
from accounts.profile_views import profile_page
from jobs import views as job_views
from jobs.api import queue_views
from jobs.api.dashboard import AdminDashboardView, ApiRootView, DashboardStatsView
from jobs.api.views import JobViewSet
from jobs.named_queues import RESERVED_NAMES
from scheduling.api.queue_views import QueueSchedulesView, QueueScheduleView

from . import health

# Where the JSON API and the people's pages live (API.md; docs/pages.md). Errors under an API prefix
# are always JSON; under a page prefix they are HTML pages; elsewhere JSON unless the client asks for
# HTML (config.exceptions.is_api_request). /login and /register without a slash are the API, but
# share their prefix with the pages /login/ and /register/, whose errors are pages.
API_PATH_PREFIXES = (
    "/auth/", "/jobs", "/queues", "/flows", "/webhooks", "/api-docs", "/healthz", "/readyz", "/metrics"
)
PAGE_PATH_PREFIXES = ("/app/", "/admin/", "/login", "/logout", "/register", "/password-reset")

# The {queueName} segment of the v0.0.2 routes: any segment but our own collection routes' names.
_QUEUE = "(?P<queue_name>(?!(?:{})(?:/|$))[^/]+)".format("|".join(RESERVED_NAMES))

urlpatterns = [
    path("healthz", health.healthz),
    path("healthz/", health.healthz),
    # Issue 8: pages for people, and the Queues board inside the admin (before admin's own catch-all).
    path("", ApiRootView.as_view(), name="dashboard"),
    # The original's root routes (issue 15); the API without a trailing slash only.
    re_path(r"^register$", accounts_api.RegisterView.as_view(), name="legacy-register"),
    re_path(r"^login$", accounts_api.LoginView.as_view(), name="legacy-login"),
    re_path(r"^logout$", accounts_api.LogoutView.as_view(), name="legacy-logout"),
    re_path(r"^refresh-token/?$", accounts_api.RefreshTokenView.as_view(), name="legacy-refresh-token"),
    re_path(r"^submit-job/?$", JobViewSet.as_view({"post": "submit"}), name="legacy-submit-job"),
    re_path(
        r"^request-password-reset/?$",
        accounts_api.PasswordResetRequestView.as_view(),
        name="legacy-request-password-reset",
    ),
    re_path(
        r"^reset-password/?$", accounts_api.PasswordResetConfirmView.as_view(), name="legacy-reset-password"
    ),
    re_path(r"^api-keys/?$", accounts_api.ApiKeyListView.as_view(), name="api-keys"),
    re_path(r"^api-keys/(?P<key_id>[^/]+)/?$", accounts_api.ApiKeyDetailView.as_view(), name="api-key"),
    re_path(r"^dashboard/stats/?$", DashboardStatsView.as_view(), name="dashboard-stats"),
    re_path(r"^admin/dashboard/?$", AdminDashboardView.as_view(), name="admin-dashboard"),
    # Bull Board lived at /admin: the Django admin (staff) and its Queues page are at /admin/.
    path("admin", RedirectView.as_view(url="/admin/", permanent=True)),
    path("app/jobs/", include("jobs.page_urls")),
    path("app/schedules/", include("scheduling.urls")),
    path("app/profile/", profile_page, name="profile"),
    path("app/webhooks/", include("webhooks.urls")),
    path("app/flows/", include("flows.urls")),
    path("app/api-keys/", include("accounts.api_key_urls")),
    path("admin/queues/", include("jobs.admin_queue_urls")),
    # issue 9: readiness (database, Redis, workers, beat) and Prometheus metrics
    path("readyz", health.readyz),
    path("readyz/", health.readyz),
    path("metrics", health.metrics),
    path("metrics/", health.metrics),
    path("admin/", admin.site.urls),
    # issue 9: OpenAPI 3 (JSON), Swagger UI and ReDoc served from the sidecar package (no CDN)
    path(
        "api-docs.json",
        SpectacularAPIView.as_view(renderer_classes=[OpenApiJsonRenderer2]),
        name="api-schema",
    ),
    path("api-docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("api-docs", SpectacularSwaggerView.as_view(url_name="api-schema")),
    path(
        "api-docs/redoc/",
        SpectacularRedocView.as_view(url_name="api-schema", template_name="api_docs/redoc.html"),
        name="api-redoc",
    ),
    path(
        "api-docs/redoc",
        SpectacularRedocView.as_view(url_name="api-schema", template_name="api_docs/redoc.html"),
    ),
    path("auth/", include("accounts.urls")),
    # Account pages (login, logout, register, password reset).
    path("", include("accounts.web_urls")),
    # JobRunner v0.0.2's routes under a named queue (docs/queues.md), before /jobs/schedule/...:
    # /jobs/{queueName}/... never takes a segment of our own collection routes (schedule, submit,
    # handlers), which config/settings.py refuses as queue names in JOB_QUEUES. GET /jobs/{segment} is
    # JobViewSet.retrieve: the queue's job list when the segment is a declared queue, else that job.
    re_path(r"^queues/?$", queue_views.QueuesView.as_view(), name="queues"),
    re_path(rf"^jobs/{_QUEUE}/submit/?$", queue_views.QueueSubmitView.as_view(), name="queue-submit"),
    re_path(
        rf"^jobs/{_QUEUE}/job/(?P<job_id>[^/]+)/?$", queue_views.QueueJobView.as_view(), name="queue-job"
    ),
    re_path(
        rf"^jobs/{_QUEUE}/job/(?P<job_id>[^/]+)/cancel/?$",
        queue_views.QueueJobCancelView.as_view(),
        name="queue-job-cancel",
    ),
    re_path(rf"^jobs/{_QUEUE}/schedule/?$", QueueSchedulesView.as_view(), name="queue-schedules"),
    re_path(
        rf"^jobs/{_QUEUE}/schedule/(?P<scheduler_id>[^/]+)/?$",
        QueueScheduleView.as_view(),
        name="queue-schedule",
    ),
    # schedules before jobs: /jobs/{jobId} would otherwise swallow /jobs/schedule
    path("", include("scheduling.api.urls")),
    path("", include("jobs.api.urls")),
    # issue 7: live status page and job detail page
    path("app/live/", job_views.live_page, name="live"),
    path("app/jobs/<str:job_id>/", job_views.job_detail_page, name="job-detail"),
    path("", include("webhooks.api.urls")),
    path("", include("flows.api.urls")),
]


def json_not_found(request, exception=None):
    """404 for any unknown path as the API's error shape (never an HTML page), except for the
    people's pages under ``/app/`` (issue 8), which answer with an HTML page."""
    if request.path.startswith("/app/"):
        return render(request, "pages/not_found.html", status=404)
    return JsonResponse({"message": "Not found", "errors": {}}, status=404)


def json_server_error(request):
    return JsonResponse({"message": "Internal server error", "errors": {}}, status=500)


handler404 = json_not_found
handler500 = json_server_error
