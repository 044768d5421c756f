"""Every input of issue 13, item 6 gets a 4xx naming the field, never a 500: odd ids (one parser,
``config.ids``), instants at the edges of the calendar (one instant parser), long or non-ASCII cron
expressions (``scheduling.cron``). Bodies over the limit and chunked bodies: tests/ops/test_request_bodies.py;
races: tests/ops/test_races.py."""

from __future__ import annotations

import pytest
from django.test import Client
from django_celery_beat.models import CrontabSchedule

from config.ids import MAX_ID, parse_id
from scheduling import cron
from scheduling.models import Schedule
from tests.conftest import api_for

HUGE = "1" * 4301
ODD_IDS = ["%C2%B2", "²", "%D9%A3", HUGE, "0", "-1", "1.0", str(MAX_ID + 1), "99999999999999999999", "1e3"]


@pytest.mark.parametrize("raw", ODD_IDS)
@pytest.mark.parametrize(
    ("method", "template"),
    [
        ("get", "/jobs/{}"),
        ("post", "/jobs/{}/retry"),
        ("delete", "/jobs/{}"),
        ("get", "/webhooks/{}"),
        ("put", "/webhooks/{}"),
        ("delete", "/webhooks/{}"),
        ("get", "/webhooks/{}/deliveries"),
        ("get", "/webhooks/{hook}/deliveries/{}"),
        ("post", "/webhooks/{hook}/deliveries/{}/redeliver"),
        ("delete", "/auth/api-keys/{}"),
    ],
)
def test_odd_ids_in_api_paths_are_404(api, owner, method, template, raw):
    from webhooks.models import Webhook

    hook = Webhook.objects.create(owner=owner, url="https://example.com/h", event_type="all", secret="s")
    path = template.format(raw, hook=hook.pk)
    response = getattr(api, method)(path, {} if method in ("put", "post") else None, format="json")
    assert response.status_code == 404, response.content[:300]
    assert response.json() == {"message": "Not found.", "errors": {}}


@pytest.mark.parametrize("raw", ["%C2%B2", HUGE, str(MAX_ID + 1)])
@pytest.mark.parametrize("template", ["/app/webhooks/{}/", "/app/webhooks/{}/deliveries/1/redeliver/"])
def test_odd_ids_in_page_paths_are_404(owner, template, raw):
    client = Client()
    client.force_login(owner)
    path = template.format(raw)
    response = client.post(path) if "redeliver" in path else client.get(path)
    assert response.status_code == 404


@pytest.mark.parametrize(
    ("value", "expected"),
    [("1", 1), (7, 7), (str(MAX_ID), MAX_ID), ("²", None), ("٣", None), (HUGE, None), ("0", None), (0, None),
     (-3, None), ("+1", None), (" 1", None), ("1_000", None), (True, None), (1.0, None), (None, None),
     (str(MAX_ID + 1), None)],
)
def test_one_id_parser(value, expected):
    assert parse_id(value) == expected


# --- instants ----------------------------------------------------------------------------------------

EDGE_INSTANTS = [
    "0001-01-01T00:00:00+01:00",  # before year 1 in UTC
    "0001-01-01T00:30:00+00:45",
    "9999-12-31T23:59:59-01:00",  # after year 9999 in UTC
    "9999-12-31T23:30:00-14:00",
]


def _schedule_body(**schedule) -> dict:
    return {"name": "echo", "data": {}, "schedule": schedule}


@pytest.mark.parametrize("instant", EDGE_INSTANTS)
@pytest.mark.parametrize(
    ("field", "body"),
    [
        ("schedule.at", lambda v: _schedule_body(at=v)),
        ("schedule.startDate", lambda v: _schedule_body(cron="0 0 * * *", startDate=v)),
        ("schedule.endDate", lambda v: _schedule_body(cron="0 0 * * *", endDate=v)),
    ],
)
def test_instants_beyond_the_calendar_are_400_naming_the_field(api, instant, field, body):
    response = api.post("/jobs/schedule", body(instant), format="json")
    assert response.status_code == 400, response.content[:300]
    assert list(response.json()["errors"]) == [field]
    assert response.json()["message"].startswith(f"{field}: ")
    assert not Schedule.objects.exists()


@pytest.mark.parametrize("instant", EDGE_INSTANTS)
def test_preview_from_beyond_the_calendar_is_400(api, instant):
    body = {"schedule": {"cron": "0 0 * * *"}, "from": instant}
    response = api.post("/jobs/schedule/preview", body, format="json")
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["from"]


@pytest.mark.parametrize(
    "body",
    [
        _schedule_body(at="9999-12-30T23:59:59Z"),
        _schedule_body(cron="0 0 * * *", endDate="9999-12-30T00:00:00+00:00"),
        _schedule_body(cron="0 0 * * *", startDate="9999-12-29T00:00:00Z"),
        _schedule_body(repeat={"every": 1000}, startDate="0001-01-02T00:00:00Z"),
        _schedule_body(cron="59 23 31 12 *", startDate="9999-12-31T00:00:00Z"),
    ],
)
def test_instants_at_the_edges_of_the_calendar_are_stored_or_refused_never_500(api, body):
    response = api.post("/jobs/schedule", body, format="json")
    assert response.status_code in (201, 400), response.content[:300]
    if response.status_code == 201:
        sid = response.json()["schedulerId"]
        assert api.get(f"/jobs/schedule/{sid}").status_code == 200
        assert api.get("/jobs/schedule").status_code == 200


@pytest.mark.parametrize("instant", ["9999-12-30T23:00:00Z", "9999-12-31T23:59:59Z", "0001-01-01T00:00:00Z"])
@pytest.mark.parametrize(
    "schedule",
    [{"cron": "0 0 * * *"}, {"cron": "* * * * * *", "tz": "Pacific/Kiritimati"}, {"repeat": {"every": 1000}}],
)
def test_preview_from_the_edges_of_the_calendar_answers(api, instant, schedule):
    response = api.post("/jobs/schedule/preview", {"schedule": schedule, "from": instant}, format="json")
    assert response.status_code in (200, 400), response.content[:300]
    if response.status_code == 400:
        assert list(response.json()["errors"]) == ["from"]


# --- cron ----------------------------------------------------------------------------------------------

LONG_VALID = ",".join(str(m) for m in range(60)) + " " + ",".join(str(h) for h in range(24)) + " * * *"


def test_a_valid_cron_longer_than_the_column_is_400(api):
    assert len(LONG_VALID) > 200
    response = api.post("/jobs/schedule", _schedule_body(cron=LONG_VALID), format="json")
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["schedule.cron"]
    assert response.json()["message"] == (
        f"schedule.cron: at most {cron.MAX_CRON_LENGTH} characters (this one has {len(LONG_VALID)}); "
        "shorten lists with ranges (a-b) or steps (*/n)"
    )


def test_a_cron_field_longer_than_its_projection_column_is_400(api):
    hours = ",".join(str(h) for h in range(24)) + "," + ",".join(str(h) for h in range(23, -1, -1))
    expression = f"0 {hours} * * *"
    assert len(expression) <= 200 and len(hours) > 96  # fits the schedule's column, not the hour column
    response = api.post("/jobs/schedule", _schedule_body(cron=expression), format="json")
    assert response.status_code == 400
    assert response.json()["errors"] == {
        "schedule.cron": [f"schedule.cron: hour field: at most 96 characters (this one has {len(hours)})"]
    }


def test_cron_length_limits_match_the_columns():
    assert cron.MAX_CRON_LENGTH == Schedule._meta.get_field("cron_expression").max_length
    names = ["minute", "hour", "day_of_month", "month_of_year", "day_of_week"]
    assert cron.PROJECTED_FIELD_MAX == {n: CrontabSchedule._meta.get_field(n).max_length for n in names}


@pytest.mark.parametrize("expression", ["² * * * *", "* ² * * *", "*/² * * * *", "1-² * * * *", "٣ * * * *"])
def test_non_ascii_digits_in_a_cron_are_400(api, expression):
    for path, body in (
        ("/jobs/schedule", _schedule_body(cron=expression)),
        ("/jobs/schedule/preview", {"schedule": {"cron": expression}}),
    ):
        response = api.post(path, body, format="json")
        assert response.status_code == 400, (path, response.content[:300])
        assert list(response.json()["errors"]) == ["schedule.cron"], path


# --- websocket ---------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("job_id", [HUGE, "²", str(MAX_ID + 1), 10**30, -1, 1.5, None, ["1"]])
def test_websocket_subscribe_with_an_odd_id_answers_an_error_and_keeps_the_socket(owner, job_id):
    from tests.live.conftest import LiveSocket, access_token

    sock = LiveSocket(f"/ws/jobs/?token={access_token(owner)}")
    try:
        sock.send({"action": "subscribe", "jobId": job_id})
        answer = sock.receive()
        assert answer["event"] == "error" and answer["message"].startswith("jobId: no job ")
        assert len(answer["message"]) < 200
        sock.send({"action": "ping"})
        assert sock.receive()["event"] == "pong"
    finally:
        sock.close()


def test_other_users_cannot_reach_each_others_ids_through_the_parser(owner, other_user, api):
    key_id = api.post("/auth/api-keys", {"name": "k"}, format="json").json()["id"]
    assert api_for(other_user).delete(f"/auth/api-keys/{key_id}").status_code == 404
