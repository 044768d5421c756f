"""BullMQ's ``immediately`` and ``offset`` through the page form and the admin form: the same parser as
the API (``scheduling.definition.timing_parse``), so the same schedule results. Their refusals are
in test_rules_everywhere.py."""

from datetime import timedelta

import pytest

from jobs.ids import epoch_ms
from scheduling.models import Schedule
from scheduling.services import now_ms

from .helpers import client_for, schedule_form
from .test_rules_everywhere import admin_form

pytestmark = pytest.mark.django_db


def test_page_form_runs_a_cron_at_once_with_immediately(owner):
    before = now_ms()
    res = client_for(owner).post(
        "/app/schedules/new/", schedule_form(cron_expression="0 1 * * *", time_zone="UTC", immediately="on")
    )
    assert res.status_code == 302
    row = Schedule.objects.get()
    assert before <= row.next_fire_at <= now_ms() and row.cron_expression == "0 1 * * *"


def test_page_form_keeps_an_offset_and_its_edit_form_shows_it(owner):
    client = client_for(owner)
    form = schedule_form(kind="every", every="15", every_unit="min", offset="180000")
    assert client.post("/app/schedules/new/", form).status_code == 302
    row = Schedule.objects.get()
    assert (row.every_ms, row.offset_ms) == (900_000, 180_000)
    assert epoch_ms(row.next_fire_at) % 900_000 == 180_000
    edit = client.get(f"/app/schedules/{row.scheduler_id}/edit/")
    assert edit.context["form"].initial["offset"] == 180_000
    pending = row.next_fire_at
    # saving the edit form unchanged keeps the pending fire (an upsert with the same timing)
    assert client.post(f"/app/schedules/{row.scheduler_id}/edit/", form).status_code == 302
    row.refresh_from_db()
    assert (row.next_fire_at, row.offset_ms) == (pending, 180_000)


def test_admin_add_form_takes_immediately_and_offset(admin_user, owner):
    client = client_for(admin_user)
    before = now_ms()
    res = client.post(
        "/admin/scheduling/schedule/add/",
        admin_form(owner, scheduler_id="now", cron_expression="0 1 * * *", immediately="on"),
    )
    assert res.status_code == 302
    assert before <= Schedule.objects.get(scheduler_id="now").next_fire_at <= now_ms()
    res = client.post(
        "/admin/scheduling/schedule/add/",
        admin_form(owner, scheduler_id="grid", kind="every", every_ms="60000", offset="1500"),
    )
    saved = now_ms()  # the grid was anchored before this: its next slot is at most one `every` later
    assert res.status_code == 302
    row = Schedule.objects.get(scheduler_id="grid")
    assert row.offset_ms == 1500 and epoch_ms(row.next_fire_at) % 60_000 == 1500
    assert row.next_fire_at - saved <= timedelta(minutes=1)
