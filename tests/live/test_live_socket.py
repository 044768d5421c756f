"""/ws/jobs/: who may connect, what each socket receives, subscribe/unsubscribe, snapshot, heartbeats."""

import pytest

from jobs.api.serializers import job_to_dict
from jobs.models import Job
from jobs.realtime import flush_job, publish_job_event, publish_schedule_event
from tests.live.conftest import session_cookie

pytestmark = [pytest.mark.django_db(transaction=True)]

UNAUTHORISED = {"type": "websocket.close", "code": 4401}


def make_job(owner, name="echo", **fields) -> Job:
    return Job.objects.create(owner=owner, name=name, data={"n": 1}, **fields)


def test_bad_token_is_accepted_then_closed_with_4401(live_socket):
    sock = live_socket(query="?token=garbage")
    assert sock.accepted is True
    assert sock.output() == UNAUTHORISED


def test_no_credentials_is_closed_with_4401(live_socket):
    assert live_socket().output() == UNAUTHORISED


def test_bad_token_is_refused_even_with_a_valid_session(live_socket, owner):
    cookie = f"sessionid={session_cookie(owner)}".encode()
    sock = live_socket(query="?token=garbage", headers=[(b"cookie", cookie)])
    assert sock.output() == UNAUTHORISED


def test_api_key_is_refused_while_it_matches_no_user(live_socket):
    assert live_socket(query="?apiKey=not-a-key").output() == UNAUTHORISED
    assert live_socket(headers=[(b"x-api-key", b"not-a-key")]).output() == UNAUTHORISED


def test_api_key_in_query_or_header_authenticates_its_owner(live_socket, owner, api):
    key = api.post("/auth/api-keys", {"name": "live"}, format="json").json()["key"]
    job = make_job(owner)
    by_query = live_socket(query=f"?apiKey={key}")
    by_header = live_socket(headers=[(b"x-api-key", key.encode())])
    publish_job_event(job, "active")
    assert by_query.receive()["jobId"] == str(job.pk)
    assert by_header.receive()["jobId"] == str(job.pk)


def test_revoked_api_key_is_refused(live_socket, owner, api):
    created = api.post("/auth/api-keys", {"name": "live"}, format="json").json()
    assert api.delete(f"/auth/api-keys/{created['id']}").status_code == 200
    assert live_socket(query=f"?apiKey={created['key']}").output() == UNAUTHORISED


def test_session_cookie_authenticates_and_receives_own_job_events(live_socket, owner):
    job = make_job(owner)
    sock = live_socket(headers=[(b"cookie", f"sessionid={session_cookie(owner)}".encode())])
    publish_job_event(job, "active")
    message = sock.receive()
    assert message == {
        "event": "active",
        "jobId": str(job.pk),
        "name": "echo",
        "queueName": "jobQueue",
        "state": "waiting",
        "scheduleId": None,
        "timestamp": message["timestamp"],
    }


def test_foreign_origin_is_refused_but_no_origin_is_allowed(live_socket, owner, settings):
    settings.ALLOWED_HOSTS = ["jobs.example.test"]
    refused = live_socket(query="", headers=[(b"origin", b"https://evil.example.test")])
    assert refused.accepted is False
    script = live_socket(owner)
    script.send({"action": "ping"})
    assert script.receive()["event"] == "pong"


def test_other_users_socket_gets_nothing_and_is_refused_a_subscription(live_socket, owner, other_user):
    job = make_job(owner)
    mine, theirs = live_socket(owner), live_socket(other_user)
    theirs.send({"action": "subscribe", "jobId": str(job.pk)})
    assert theirs.receive() == {
        "event": "error",
        "message": f"jobId: no job '{job.pk}' of yours",
        "jobId": str(job.pk),
    }
    theirs.send({"action": "snapshot", "jobId": str(job.pk)})
    assert theirs.receive() == {
        "event": "error",
        "message": f"jobId: no job '{job.pk}' of yours",
        "jobId": str(job.pk),
    }
    publish_job_event(job, "active")
    publish_job_event(job, "completed", result={"n": 1})
    assert [m["event"] for m in mine.receive_until(lambda m: m["event"] == "completed")] == [
        "active",
        "completed",
    ]
    assert theirs.nothing(0.5)


def test_subscribe_narrows_to_subscribed_jobs_and_last_unsubscribe_widens_again(live_socket, owner):
    a, b = make_job(owner), make_job(owner)
    sock = live_socket(owner)
    publish_job_event(b, "active")
    assert sock.receive()["jobId"] == str(b.pk)

    sock.send({"action": "subscribe", "jobId": a.pk})
    assert sock.receive() == {"event": "subscribed", "jobId": str(a.pk)}
    publish_job_event(b, "delayed")
    publish_job_event(b, "completed", result=None)
    publish_job_event(a, "active")
    # Exactly once (through the job's group), and b's event is filtered out.
    assert sock.receive()["jobId"] == str(a.pk)
    assert sock.nothing(0.3)

    sock.send({"action": "unsubscribe", "jobId": str(a.pk)})
    assert sock.receive() == {"event": "unsubscribed", "jobId": str(a.pk)}
    publish_job_event(b, "failed", error="boom")
    message = sock.receive()
    assert (message["event"], message["jobId"], message["error"]) == ("failed", str(b.pk), "boom")
    assert sock.nothing(0.3)


def test_schedule_events_reach_the_owner_even_when_narrowed(live_socket, owner):
    from scheduling.models import Schedule

    job = make_job(owner)
    sock = live_socket(owner)
    sock.send({"action": "subscribe", "jobId": str(job.pk)})
    assert sock.receive()["event"] == "subscribed"
    schedule = Schedule(owner=owner, name="echo", scheduler_id="sched-1")
    schedule.pk = 7
    # "fired" names the job it created; it is a schedule event, so the narrowing does not drop it.
    message = publish_schedule_event(schedule, "fired", jobId="999")
    assert sock.receive() == message
    assert (message["event"], message["scheduleId"], message["jobId"]) == ("fired", "sched-1", "999")


def test_snapshot_answers_the_job_as_stored(live_socket, owner):
    job = make_job(owner, state="completed", progress=100, result={"ok": True}, output="a\nb\n")
    sock = live_socket(owner)
    sock.send({"action": "snapshot", "jobId": str(job.pk)})
    job.refresh_from_db()
    assert sock.receive() == {**job_to_dict(job), "event": "snapshot"}


def test_unknown_action_and_unsubscribe_without_subscription_are_errors(live_socket, owner):
    sock = live_socket(owner)
    sock.send({"action": "dance"})
    assert sock.receive() == {
        "event": "error",
        "jobId": None,
        "message": "action: must be one of subscribe, unsubscribe, snapshot, ping",
    }
    sock.send({"action": "unsubscribe", "jobId": "12"})
    assert sock.receive() == {"event": "error", "jobId": "12", "message": "jobId: not subscribed to '12'"}


def test_client_ping_gets_pong_and_server_sends_heartbeats(live_socket, owner, settings):
    settings.LIVE_PING_SECONDS = 0.2
    sock = live_socket(owner)
    sock.send({"action": "ping"})
    assert sock.receive()["event"] == "pong"
    heartbeat = sock._run(sock.comm.receive_json_from(5), 10)
    assert heartbeat["event"] == "ping" and isinstance(heartbeat["timestamp"], int)


def test_flush_job_sends_buffered_delta_at_once(live_socket, owner):
    job = make_job(owner, state="active")
    sock = live_socket(owner)
    publish_job_event(job, "delta", content="hello ")
    publish_job_event(job, "delta", content="world")
    flush_job(job.pk)
    message = sock.receive()
    assert (message["event"], message["content"]) == ("delta", "hello world")
    assert sock.nothing(0.3)


def test_idle_socket_outlives_the_redis_read_timeout(live_socket, owner):
    # redis-py 8's default 5 s read timeout used to kill every idle consumer's blocking receive.
    job = make_job(owner)
    sock = live_socket(owner)
    assert sock.nothing(6.5)
    publish_job_event(job, "active")
    assert sock.receive()["event"] == "active"


def test_a_frame_that_is_not_json_is_answered_with_an_error(live_socket, owner):
    sock = live_socket(owner)
    sock._run(sock.comm.send_to(text_data="{not json"), 5)
    assert sock.receive() == {
        "event": "error",
        "jobId": None,
        "message": "message: must be a JSON object with an action",
    }
    sock.send({"action": "ping"})
    assert sock.receive()["event"] == "pong"


def test_an_open_socket_is_a_registered_listener_until_it_closes(live_socket, owner, other_user):
    from config.redis_client import redis_client
    from jobs.realtime import LISTENER_PREFIX, _listened, user_group

    mine, theirs = user_group(owner.pk), user_group(other_user.pk)
    assert _listened([mine, theirs]) == set()
    first, second = live_socket(owner), live_socket(owner)
    channels = redis_client().smembers(LISTENER_PREFIX + mine)
    assert len(channels) == 2 and all(c.startswith(b"specific.") for c in channels)
    assert _listened([mine, theirs]) == {mine}
    first.close()
    assert redis_client().scard(LISTENER_PREFIX + mine) == 1
    second.close()
    assert _listened([mine, theirs]) == set()


def test_events_of_a_user_nobody_listens_to_are_not_sent_to_the_layer(live_socket, owner, other_user):
    from channels.layers import get_channel_layer

    from jobs.realtime import flush_all

    layer = get_channel_layer()
    sent: list[str] = []
    original = layer.group_send

    async def counting(group, message):
        sent.append(group)
        await original(group, message)

    layer.group_send = counting
    try:
        sock = live_socket(owner)
        publish_job_event(make_job(other_user), "active")  # nobody listens to other_user
        publish_job_event(make_job(owner), "active")
        flush_all()
        assert sock.receive()["event"] == "active"
    finally:
        del layer.group_send
    assert sent == [f"user.{owner.pk}"]


def test_a_socket_opened_right_after_an_unsent_event_gets_the_next_one(live_socket, owner, monkeypatch):
    from jobs import realtime

    monkeypatch.setattr(realtime, "LISTENER_CACHE_S", 1.5)  # long enough to outlast the handshake
    job = make_job(owner)
    publish_job_event(job, "waiting")  # nobody listens: not sent, and "no listener" is cached 1.5 s
    realtime.flush_all()
    sock = live_socket(owner)  # registers, then waits out that cached answer before it accepts
    publish_job_event(job, "active")
    message = sock.receive(timeout=5)
    assert (message["event"], message["jobId"]) == ("active", str(job.pk))
    assert sock.nothing(0.3)


def test_subscribe_snapshot_and_unsubscribe_take_custom_and_repeat_ids(live_socket, owner, other_user):
    """Issue 17 item 7 / issue 19: the socket reads ``jobId`` as GET /jobs/{jobId} does; answers and
    events carry the job's public id (its custom jobId, or ``repeat:<schedulerId>:<ms>``)."""
    from datetime import UTC, datetime

    from scheduling.models import Schedule

    custom = make_job(owner, idempotency_key="nightly-ping")
    schedule = Schedule.objects.create(owner=owner, scheduler_id="nightly", name="echo", kind="cron")
    fired = make_job(owner, schedule=schedule, fire_at=datetime(2030, 1, 1, tzinfo=UTC))
    repeat_id = "repeat:nightly:1893456000000"
    sock, theirs = live_socket(owner), live_socket(other_user)
    sock.send({"action": "subscribe", "jobId": "nightly-ping"})
    assert sock.receive() == {"event": "subscribed", "jobId": "nightly-ping"}
    sock.send({"action": "subscribe", "jobId": str(fired.pk)})  # by its numeric id: answered by its id
    assert sock.receive() == {"event": "subscribed", "jobId": repeat_id}
    publish_job_event(custom, "active")
    publish_job_event(fired, "active")
    assert [m["jobId"] for m in (sock.receive(), sock.receive())] == ["nightly-ping", repeat_id]
    sock.send({"action": "snapshot", "jobId": repeat_id})
    assert sock.receive()["jobId"] == repeat_id
    sock.send({"action": "unsubscribe", "jobId": repeat_id})
    assert sock.receive() == {"event": "unsubscribed", "jobId": repeat_id}
    sock.send({"action": "unsubscribe", "jobId": str(custom.pk)})  # any id of the job undoes it
    assert sock.receive() == {"event": "unsubscribed", "jobId": "nightly-ping"}
    for job_id in ("nightly-ping", repeat_id):
        theirs.send({"action": "subscribe", "jobId": job_id})
        refused = theirs.receive()
        assert refused == {"event": "error", "message": f"jobId: no job {job_id!r} of yours", "jobId": job_id}
