"""Job pages under ``/app/jobs/`` (list and new-job form); the detail page lives with the live views."""

from django.urls import path

from . import pages

urlpatterns = [
    path("", pages.job_list_page, name="job-list-page"),
    path("new/", pages.job_new_page, name="job-new-page"),
    path("bulk/", pages.job_bulk_page, name="job-bulk-page"),
    path("<int:job_id>/<str:action>/", pages.job_action_page, name="job-action-page"),
]
