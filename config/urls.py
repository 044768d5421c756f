"""Root URLs. API paths follow the system we port and work with and without a trailing slash."""

from django.contrib import admin
from django.http import JsonResponse
from django.urls import include, path

from accounts import views as account_views

from . import health

urlpatterns = [
    path("healthz", health.healthz),
    path("healthz/", health.healthz),
    path("admin/", admin.site.urls),
    path("auth/", include("accounts.urls")),
    # Account pages (login, logout, register, password reset) and a placeholder home page.
    path("", include("accounts.web_urls")),
    path("", account_views.home, name="home"),
    # schedules before jobs: /jobs/{jobId} would otherwise swallow /jobs/schedule
    path("", include("scheduling.api.urls")),
    path("", include("jobs.api.urls")),
]


def json_not_found(request, exception=None):
    """404 for any unknown path as the API's error shape (never an HTML page)."""
    return JsonResponse({"message": "Not found", "errors": {}}, status=404)


def json_server_error(request):
    return JsonResponse({"message": "Internal server error", "errors": {}}, status=500)


handler404 = json_not_found
handler500 = json_server_error
