"""Live latency (issue 7): from a worker-side ``publish_job_event(job, "completed")`` to websocket clients.

What runs: a real ``uvicorn config.asgi:application`` (one process, as ``make run``) on a scratch SQLite
database and the Redis at ``REDIS_URL``; N ``websockets`` clients (one asyncio process) connected to
``/ws/jobs/?token=``; and a publisher subprocess that calls ``jobs.realtime.publish_job_event``
exactly as a Celery worker does (same module, same Redis channel layer). Each published ``completed``
carries ``benchSentNs`` (``time.time_ns()`` just before the call); each client stamps the arrival, so
one sample is one (event, receiving socket) pair. Clients and publisher share the machine's clock.

Default shape: one user (and one job) per socket, events published round-robin over the jobs every
``--gap-ms``: N concurrent sockets with live traffic, each event reaching its owner's socket only.
``--fanout``: every socket belongs to one user, so each event goes to all N sockets (worst case).
``--socketio``: the clients are python-socketio's ``AsyncClient`` on ``/socket.io/`` (websocket
transport, handshake ``auth: {token}``) receiving ``job:completed``: the same events through the
Socket.IO relay (``jobs.socketio_app``) instead of ``/ws/jobs/``.

    REDIS_URL=redis://127.0.0.1:6379/5 .venv/bin/python bench/live_latency.py
    REDIS_URL=redis://127.0.0.1:6379/5 .venv/bin/python bench/live_latency.py --fanout --events 20 \
        --gap-ms 500
    REDIS_URL=redis://127.0.0.1:6379/5 .venv/bin/python bench/live_latency.py --socketio

Prints p50/p99/max in ms per socket count. Target: p99 < 50 ms at 200 sockets.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def setup_database(env: dict, users: int) -> list[tuple[int, str]]:
    """Migrate the scratch database; return one ``(job id, owner's access JWT)`` per user."""
    code = (
        "import django, json; django.setup()\n"
        "from django.core.management import call_command\n"
        "call_command('migrate', verbosity=0)\n"
        "from django.contrib.auth import get_user_model\n"
        "from rest_framework_simplejwt.tokens import RefreshToken\n"
        "from jobs.models import Job\n"
        "out = []\n"
        f"for i in range({users}):\n"
        "    user, _ = get_user_model().objects.get_or_create(username=f'bench-live-{i}')\n"
        "    job = Job.objects.create(owner=user, name='echo', data={}, state='active')\n"
        "    out.append([job.pk, str(RefreshToken.for_user(user).access_token)])\n"
        "print(json.dumps(out))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=BASE_DIR, env=env, check=True, capture_output=True, text=True
    )
    return [tuple(pair) for pair in json.loads(out.stdout.splitlines()[-1])]


PUBLISHER = """
import json, sys, time, django
django.setup()
from jobs.models import Job
from jobs.realtime import publish_job_event
jobs = list(Job.objects.filter(pk__in=json.loads(sys.argv[1])).order_by("pk"))
count, gap_s = int(sys.argv[2]), float(sys.argv[3])
publish_job_event(jobs[0], "progress", progress=0)  # warm the publisher's connection
time.sleep(0.5)
for i in range(count):
    sent = time.time_ns()  # also in the result: Socket.IO payloads carry the original's keys only
    job = jobs[i % len(jobs)]
    publish_job_event(job, "completed", result={"i": i, "benchSentNs": sent}, benchSentNs=sent)
    time.sleep(gap_s)
"""


async def measure(base: str, owners: list[tuple[int, str]], sockets: int, events: int, gap_s: float,
                  env: dict) -> list[float]:
    """Open ``sockets`` sockets (socket i as owner i % len(owners)); publish ``events`` events cycling over
    the owners' jobs; return one latency sample (ms) per (event, receiving socket)."""
    import websockets

    samples: list[float] = []
    urls = [f"{base}?token={owners[i % len(owners)][1]}" for i in range(sockets)]
    conns = [await websockets.connect(url, open_timeout=30, max_queue=None) for url in urls]
    used = owners[: min(len(owners), events)]
    expected = [0] * sockets
    for i in range(events):
        for s in range(sockets):
            if s % len(owners) == i % len(used):
                expected[s] += 1

    async def reader(ws, want: int):
        seen = 0
        while seen < want:
            raw = await ws.recv()
            now = time.time_ns()
            message = json.loads(raw)
            if message.get("event") == "completed" and "benchSentNs" in message:
                samples.append((now - message["benchSentNs"]) / 1e6)
                seen += 1

    readers = [asyncio.create_task(reader(ws, want)) for ws, want in zip(conns, expected, strict=True)]
    await asyncio.sleep(0.5)  # every socket has joined its group
    await _publish_and_wait(readers, used, events, gap_s, env)
    for ws in conns:
        await ws.close()
    return samples


async def measure_socketio(base: str, owners: list[tuple[int, str]], sockets: int, events: int,
                           gap_s: float, env: dict) -> list[float]:
    """As :func:`measure`, with python-socketio clients on ``/socket.io/`` receiving ``job:completed``
    (whose payload has the original's keys: the send time is read from its ``result``)."""
    import socketio

    samples: list[float] = []
    used = owners[: min(len(owners), events)]
    clients, done = [], []
    for s in range(sockets):
        want = sum(1 for i in range(events) if s % len(owners) == i % len(used))
        client = socketio.AsyncClient(reconnection=False)
        finished = asyncio.get_running_loop().create_future()
        seen = [0]

        def on_completed(data, seen=seen, want=want, finished=finished):
            samples.append((time.time_ns() - data["result"]["benchSentNs"]) / 1e6)
            seen[0] += 1
            if seen[0] >= want and not finished.done():
                finished.set_result(None)

        client.on("job:completed", on_completed)
        await client.connect(base, auth={"token": owners[s % len(owners)][1]}, transports=["websocket"],
                             wait_timeout=30)
        clients.append(client)
        done.append(finished)
    await asyncio.sleep(0.5)
    await _publish_and_wait(done, used, events, gap_s, env)
    for client in clients:
        await client.disconnect()
    return samples


async def _publish_and_wait(waiters, used, events: int, gap_s: float, env: dict) -> None:
    job_ids = json.dumps([job_id for job_id, _ in used])
    publisher = await asyncio.create_subprocess_exec(
        sys.executable, "-c", PUBLISHER, job_ids, str(events), str(gap_s), cwd=BASE_DIR, env=env
    )
    try:
        await asyncio.wait_for(asyncio.gather(*waiters), timeout=events * gap_s + 60)
    finally:
        await publisher.wait()


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sockets", type=int, nargs="+", default=[1, 200])
    parser.add_argument("--events", type=int, default=400, help="completed events published per run")
    parser.add_argument("--gap-ms", type=float, default=10, help="pause between two published events")
    parser.add_argument("--socketio", action="store_true", help="Socket.IO clients on /socket.io/")
    parser.add_argument(
        "--fanout", action="store_true",
        help="all sockets belong to one user, so every event goes to every socket (worst case)",
    )
    args = parser.parse_args()

    db = BASE_DIR / "var" / "bench-live.sqlite3"
    db.parent.mkdir(exist_ok=True)
    for path in (db, Path(f"{db}-wal"), Path(f"{db}-shm")):
        path.unlink(missing_ok=True)
    env = dict(
        os.environ,
        DJANGO_SETTINGS_MODULE="config.settings",
        DATABASE_URL=f"sqlite:///{db}",
        REDIS_URL=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
        CHANNEL_LAYER_PREFIX=f"bench-live-{os.getpid()}",  # never mixes with a running server's groups
        TESTING="1",
        LOG_LEVEL="WARNING",
    )
    owners = setup_database(env, 1 if args.fanout else max(args.sockets))
    port = _free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "config.asgi:application", "--host", "127.0.0.1",
         "--port", str(port), "--no-access-log", "--log-level", "warning"],
        cwd=BASE_DIR, env=env, start_new_session=True,
    )  # fmt: skip
    try:
        for _ in range(100):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1).close()
                break
            except OSError:
                time.sleep(0.2)
        shape = "one user, every event to every socket" if args.fanout else "one user per socket"
        clients = "Socket.IO clients (/socket.io/)" if args.socketio else "websockets clients (/ws/jobs/)"
        print(
            "live latency: publish_job_event('completed') in a worker-like process -> Redis layer -> uvicorn "
            f"-> {clients}; {shape}; {args.events} events, {args.gap_ms:g} ms apart"
        )
        for n in args.sockets:
            chosen = owners[:n]
            gap_s = args.gap_ms / 1000
            if args.socketio:
                run = measure_socketio(f"http://127.0.0.1:{port}", chosen, n, args.events, gap_s, env)
            else:
                run = measure(f"ws://127.0.0.1:{port}/ws/jobs/", chosen, n, args.events, gap_s, env)
            samples = asyncio.run(run)
            print(
                f"{n:4d} sockets: {len(samples):6d} samples  p50 {statistics.median(samples):6.1f} ms  "
                f"p99 {percentile(samples, 99):6.1f} ms  max {max(samples):6.1f} ms"
            )
    finally:
        server.terminate()
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
