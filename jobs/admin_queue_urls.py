"""``/admin/queues/...``: the Queues board (staff only, through the admin's login and permission check)."""

from django.contrib import admin
from django.urls import path

from . import admin_queues as views

staff = admin.site.admin_view

urlpatterns = [
    path("", staff(views.queues_view), name="admin-queues"),
    path("workers/", staff(views.workers_view), name="admin-queues-workers"),
    path("jobs/<int:job_id>/", staff(views.board_job_view), name="admin-queues-job"),
    path(
        "jobs/<int:job_id>/<str:action>/", staff(views.board_job_action_view), name="admin-queues-job-action"
    ),
    path("<str:queue_name>/", staff(views.queue_jobs_view), name="admin-queue-jobs"),
    path("<str:queue_name>/bulk/", staff(views.queue_bulk_view), name="admin-queue-bulk"),
]
