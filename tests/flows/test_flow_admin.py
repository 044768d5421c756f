"""Flows in the Django admin: staff who are not superusers see only their own flows; the cancel action
and delete go through the flow services (every job of the flow with it)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission

from flows.models import Flow
from flows.services import flow_create
from jobs.models import Job
from tests.ui.helpers import client_for

from .conftest import leaf, node

pytestmark = pytest.mark.django_db


def _flow(owner, flowname: str) -> Flow:
    tree = node("test.sum", leaf(2), leaf(3, queueName="flowQueue"), flowname=flowname, data={"add": 1})
    return flow_create(owner=owner, tree=tree)


@pytest.fixture
def flow_staff(django_user_model):
    user = django_user_model.objects.create_user(
        "flowstaff", "flowstaff@example.test", "S3cure-pass-staff", is_staff=True
    )
    user.user_permissions.set(Permission.objects.filter(content_type__app_label__in=["flows", "jobs"]))
    return user


def test_staff_see_only_their_own_flows_and_superusers_all(flow_staff, owner, admin_user):
    mine = _flow(flow_staff, "mine")
    theirs = _flow(owner, "theirs")
    client = client_for(flow_staff)
    listed = client.get("/admin/flows/flow/").context["cl"].result_list
    assert [f.pk for f in listed] == [mine.pk]
    assert client.get(f"/admin/flows/flow/{theirs.pk}/change/").status_code == 302  # "doesn't exist"
    everyone = client_for(admin_user).get("/admin/flows/flow/").context["cl"].result_list
    assert sorted(f.pk for f in everyone) == sorted([mine.pk, theirs.pk])


def test_cancel_action_and_delete_reach_every_job_of_the_flow(admin_user, owner):
    cancelled = _flow(owner, "to-cancel")
    deleted = _flow(owner, "to-delete")
    client = client_for(admin_user)
    response = client.post(
        "/admin/flows/flow/", {"action": "cancel_flows", "_selected_action": [cancelled.pk]}
    )
    assert response.status_code == 302
    assert sorted(Job.objects.filter(flow_id=cancelled.flow_id).values_list("state", flat=True)) == [
        "cancelled", "cancelled", "cancelled"
    ]
    assert Flow.objects.get(pk=cancelled.pk).status == "cancelled"
    response = client.post(f"/admin/flows/flow/{deleted.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not Flow.objects.filter(pk=deleted.pk).exists()
    assert not Job.objects.filter(flow_id=deleted.flow_id).exists()
    assert Job.objects.filter(flow_id=cancelled.flow_id).count() == 3  # the other flow is untouched
