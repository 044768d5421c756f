"""Schedule pages (``/app/schedules/...``); the REST endpoints are in ``scheduling/api/urls.py``."""

from django.urls import path

from . import views

urlpatterns = [
    path("", views.schedule_list_page, name="schedule-list-page"),
    path("new/", views.schedule_new_page, name="schedule-new-page"),
    path("preview/", views.schedule_preview_page, name="schedule-preview-page"),
    path("<str:scheduler_id>/", views.schedule_detail_page, name="schedule-detail-page"),
    path("<str:scheduler_id>/edit/", views.schedule_edit_page, name="schedule-edit-page"),
    path("<str:scheduler_id>/<str:action>/", views.schedule_action_page, name="schedule-action-page"),
]
