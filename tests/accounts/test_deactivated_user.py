"""A deactivated user's (``is_active`` off, e.g. in the admin) schedules stop firing (issue 13, item 7);
turning them back on resumes the schedules (one catch-up fire, as after downtime). Their websockets:
tests/live/test_live_deactivated_user.py."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from scheduling import services
from scheduling.models import Schedule

pytestmark = [pytest.mark.django_db(transaction=True)]


def _due_schedule(api) -> Schedule:
    res = api.post(
        "/jobs/schedule", {"name": "echo", "data": {}, "schedule": {"repeat": {"every": 1000}}}, format="json"
    )
    assert res.status_code == 201
    row = Schedule.objects.get(scheduler_id=res.json()["schedulerId"])
    Schedule.objects.filter(pk=row.pk).update(next_fire_at=timezone.now() - timedelta(seconds=1))
    return row


def _dispatch(now) -> list[int]:
    sent: list[list] = []
    services.schedules_dispatch_due(now=now, send=sent.extend)
    return sorted(pk for pk, _ in sent)


def test_a_deactivated_users_schedules_are_not_dispatched(owner, other_user, api, other_api):
    mine, theirs = _due_schedule(api), _due_schedule(other_api)
    owner.is_active = False
    owner.save()
    now = timezone.now()
    assert _dispatch(now) == [theirs.pk]
    mine.refresh_from_db()
    assert (mine.state, mine.run_count) == ("active", 0)
    # Beat does not spin on the held-back schedule either.
    Schedule.objects.filter(pk=theirs.pk).update(next_fire_at=now + timedelta(seconds=30))
    assert services.seconds_until_next_fire(now=now, cap=1.0) == 1.0
    # Back on: the schedule fires again (once for what it missed, then on its cadence).
    owner.is_active = True
    owner.save()
    assert _dispatch(timezone.now()) == [mine.pk]
