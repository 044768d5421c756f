"""Health endpoints: ``/healthz`` says the web process is up; it touches nothing else."""

from django.http import JsonResponse


def healthz(request):
    """GET /healthz → 200 ``{"status": "ok"}`` while the process serves requests."""
    return JsonResponse({"status": "ok"})
