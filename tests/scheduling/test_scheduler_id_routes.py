"""A schedule id that names a route of its own (``preview``) or that a URL cannot carry (``.``, ``..``)
is refused with a 400 naming ``schedulerId``: such a schedule could never be read, replaced or deleted
(issue 13, item 7)."""

from __future__ import annotations

import pytest

from scheduling.api.views import ScheduleViewSet
from scheduling.models import Schedule
from scheduling.services import RESERVED_SCHEDULER_IDS

BODY = {"name": "echo", "data": {}, "schedule": {"repeat": {"every": 60000}}}


@pytest.mark.parametrize("scheduler_id", sorted(RESERVED_SCHEDULER_IDS))
def test_reserved_ids_are_refused_on_create(api, scheduler_id):
    res = api.post("/jobs/schedule", {**BODY, "schedulerId": scheduler_id}, format="json")
    assert res.status_code == 400
    assert list(res.json()["errors"]) == ["schedulerId"]
    assert res.json()["message"].startswith("schedulerId: ")
    assert not Schedule.objects.exists()


def test_every_collection_route_is_a_reserved_id():
    routes = {a.url_path for a in ScheduleViewSet.get_extra_actions() if not a.detail}
    assert routes and routes <= RESERVED_SCHEDULER_IDS


def test_put_on_the_preview_route_is_not_an_upsert(api):
    res = api.put("/jobs/schedule/preview", BODY, format="json")
    assert res.status_code == 405
    assert not Schedule.objects.exists()
