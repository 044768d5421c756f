"""Flow pages under ``/app/flows/``: the list, one flow's tree, its cancel and delete buttons."""

from django.urls import path

from . import views

urlpatterns = [
    path("", views.flow_list_page, name="flow-list-page"),
    path("<str:flow_id>/", views.flow_detail_page, name="flow-detail-page"),
    path("<str:flow_id>/<str:action>/", views.flow_action_page, name="flow-action-page"),
]
