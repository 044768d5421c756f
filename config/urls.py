"""Root URLs. API paths follow the system we port and work with and without a trailing slash."""

from django.contrib import admin
from django.http import JsonResponse
from django.shortcuts import render
from django.urls import include, path
from drf_spectacular.renderers import OpenApiJsonRenderer2
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from accounts.profile_views import profile_page
from jobs import live_views
from jobs.pages import dashboard_page

from . import health

urlpatterns = [
    path("healthz", health.healthz),
    path("healthz/", health.healthz),
    # Issue 8: pages for people, and the Queues board inside the admin (before admin's own catch-all).
    path("", dashboard_page, name="dashboard"),
    path("app/jobs/", include("jobs.page_urls")),
    path("app/schedules/", include("scheduling.urls")),
    path("app/profile/", profile_page, name="profile"),
    path("app/webhooks/", include("webhooks.urls")),
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
    # schedules before jobs: /jobs/{jobId} would otherwise swallow /jobs/schedule
    path("", include("scheduling.api.urls")),
    path("", include("jobs.api.urls")),
    # issue 7: live status page and job detail page
    path("app/live/", live_views.live_page, name="live"),
    path("app/jobs/<str:job_id>/", live_views.job_detail_page, name="job-detail"),
    path("", include("webhooks.api.urls")),
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
