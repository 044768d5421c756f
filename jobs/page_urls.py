"""Job pages under ``/app/jobs/`` (list and new-job form); the detail page is in config/urls.py."""

from django.urls import path

from . import views

urlpatterns = [
    path("", views.job_list_page, name="job-list-page"),
    path("new/", views.job_new_page, name="job-new-page"),
    path("bulk/", views.job_bulk_page, name="job-bulk-page"),
    path("<int:job_id>/<str:action>/", views.job_action_page, name="job-action-page"),
]
