"""Web load against ``make run``'s processes: no 5xx, every job completed, bounded connections (PostgreSQL).

    REDIS_URL=redis://127.0.0.1:6379/<N> DATABASE_URL=postgres://postgres@127.0.0.1:5432/<db> \
        .venv/bin/python bench/web_load.py [--clients 100] [--seconds 60] [--port 8000]

It starts ``python -m config.devstack run`` (what ``make run`` runs: migrate, then the Procfile's web,
worker, webhooks worker and beat under honcho) on that database and Redis, registers a fresh user,
then ``--clients`` threads each submit ``echo`` jobs through ``POST /jobs/submit`` (one keep-alive
connection each, a new request as soon as the previous one answered) for ``--seconds``. Meanwhile a
sampler reads ``pg_stat_activity`` every 100 ms and attributes each backend of the database to the
local process that holds the other end of its socket (``/proc``), so it prints the most connections
seen in total and per process kind next to the configured bound. After the window it waits until
every accepted job is ``completed``. Printed: requests, answers by status (responses >= 500 must be
0), p50/p99/max latency, requests/s, jobs accepted vs completed and the drain time, connections.
Exit status 0 only when there was no response >= 500 (and no connection error), every accepted job
completed, and the connections never exceeded the bound.

With a ``DATABASE_URL`` that is not PostgreSQL the run uses a fresh SQLite file (``var/``) and
checks the answers and the jobs only (SQLite has no connections to count).

The bound is what docs/deploy.md states: web ``DB_POOL_MAX_SIZE`` (its psycopg pool), one per Celery
process thread that touches the database (two per prefork child: the task and the job heartbeat),
one for beat. The Redis database is FLUSHED first: give the benchmark its own.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import statistics
import sys
import threading
import time
import uuid
from collections import Counter
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import redis
import urllib3

BASE_DIR = Path(__file__).resolve().parent.parent
PROCFILE = BASE_DIR / "Procfile"
BENCH_APP = "web_load"  # application_name of this script's own connections, left out of the counts
sys.path.insert(0, str(BASE_DIR))

from config.devstack import LiveStack  # noqa: E402


def say(message: str) -> None:
    print(f"[web_load] {message}", flush=True)


def load() -> str:
    return "load " + " ".join(f"{x:.1f}" for x in os.getloadavg())


def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


# --- which local process holds each PostgreSQL connection ---------------------------------------------


def _socket_inodes_by_port() -> dict[int, str]:
    """Local TCP port → socket inode, for every IPv4/IPv6 TCP socket of this machine."""
    out: dict[int, str] = {}
    for name in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(name).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            out[int(fields[1].rsplit(":", 1)[1], 16)] = fields[9]
    return out


def _descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    found, stack = [], [root]
    while stack:
        pid = stack.pop()
        found.append(pid)
        stack.extend(children.get(pid, []))
    return found


def _kind(pid: int) -> str:
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return "?"
    text = " ".join(a.decode(errors="replace") for a in argv)
    if "uvicorn" in text:
        return "web"
    if " beat" in text:
        return "beat"
    if "worker" in text and "-Q" in argv[1:] and b"webhooks" in argv[argv.index(b"-Q") + 1] and (
        b"jobs" not in argv[argv.index(b"-Q") + 1]
    ):
        return "webhooks worker"
    if "worker" in text:
        return "worker"
    return "other"


class ConnectionSampler(threading.Thread):
    """Every 100 ms: backends of ``dbname`` per process kind of the stack rooted at ``root_pid``."""

    def __init__(self, dsn: str, dbname: str, root_pid: int):
        super().__init__(daemon=True)
        self.dsn, self.dbname, self.root_pid = dsn, dbname, root_pid
        self.max_total = 0
        self.max_by_kind: Counter = Counter()
        self.samples = 0
        self.stop_event = threading.Event()

    def run(self) -> None:
        with psycopg.connect(self.dsn, autocommit=True, application_name=BENCH_APP) as conn:
            while not self.stop_event.is_set():
                rows = conn.execute(
                    "SELECT client_port FROM pg_stat_activity WHERE datname = %s AND application_name <> %s",
                    [self.dbname, BENCH_APP],
                ).fetchall()
                ports = _socket_inodes_by_port()
                inode_to_pid = {}
                for pid in _descendants(self.root_pid):
                    try:
                        fds = list(Path(f"/proc/{pid}/fd").iterdir())
                    except OSError:
                        continue
                    for fd in fds:
                        try:
                            target = os.readlink(fd)
                        except OSError:  # closed since the listing
                            continue
                        if target.startswith("socket:["):
                            inode_to_pid[target[8:-1]] = pid
                kinds: Counter = Counter()
                for (port,) in rows:
                    pid = inode_to_pid.get(ports.get(port or -1, ""), None)
                    kinds[_kind(pid) if pid else "not ours"] += 1
                self.samples += 1
                self.max_total = max(self.max_total, len(rows))
                for kind, n in kinds.items():
                    self.max_by_kind[kind] = max(self.max_by_kind[kind], n)
                self.stop_event.wait(0.1)


# --- the load -----------------------------------------------------------------------------------------


class Client(threading.Thread):
    """One keep-alive connection submitting ``echo`` jobs back to back until ``deadline`` (monotonic
    s) or, when ``limit`` is given, ``limit`` requests (bench/side_by_side.py's HTTP workload)."""

    def __init__(self, base: str, token: str, deadline: float, limit: int | None = None):
        super().__init__(daemon=True)
        self.limit = limit
        parts = urlsplit(base)
        self.pool = urllib3.HTTPConnectionPool(parts.hostname, parts.port, maxsize=1, retries=False,
                                               timeout=urllib3.Timeout(connect=10, read=120))
        self.headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        self.deadline = deadline
        self.latencies_ms: list[float] = []
        self.statuses: Counter = Counter()
        self.job_ids: list[int] = []
        self.errors: Counter = Counter()

    def run(self) -> None:
        n = 0
        while time.monotonic() < self.deadline and (self.limit is None or n < self.limit):
            n += 1
            body = json.dumps({"name": "echo", "data": {"n": n}}).encode()
            started = time.monotonic()
            try:
                response = self.pool.urlopen("POST", "/jobs/submit", body=body, headers=self.headers)
            except Exception as exc:  # a refused or dropped connection is a failure too
                self.errors[type(exc).__name__] += 1
                continue
            self.latencies_ms.append((time.monotonic() - started) * 1000)
            self.statuses[response.status] += 1
            if response.status == 201:
                self.job_ids.append(int(json.loads(response.data)["id"]))


def _request(base: str, path: str, body: dict, token: str | None = None) -> dict:
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    response = urllib3.request("POST", base + path, body=json.dumps(body).encode(), headers=headers,
                               timeout=30, retries=False)
    if response.status >= 300:
        raise SystemExit(f"{path}: {response.status} {response.data[:300]!r}")
    return json.loads(response.data)


def _procfile_concurrency(env: dict) -> dict[str, int]:
    """Prefork children per Celery worker process kind, as the Procfile starts them."""
    out = {}
    for line in PROCFILE.read_text().splitlines():
        if ": " not in line or line.startswith("#"):
            continue
        name, command = line.split(": ", 1)
        if " worker " in command and " -c " in command:
            raw = command.split(" -c ", 1)[1].split()[0]
            if raw.startswith("${"):
                var, _, default = raw[2:-1].partition(":-")
                raw = env.get(var, default)
            out[name] = int(raw)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--drain-timeout", type=float, default=600, help="seconds to wait for the jobs")
    args = parser.parse_args()

    database_url = os.environ.get("DATABASE_URL", "")
    redis_url = os.environ.get("REDIS_URL", "")
    if not redis_url:
        raise SystemExit("set REDIS_URL (a Redis database of your own) and DATABASE_URL (PostgreSQL)")
    env = {"LOG_LEVEL": os.environ.get("LOG_LEVEL", "WARNING")}
    postgres = database_url.startswith("postgres")
    if postgres:
        dsn = database_url.replace("postgres://", "postgresql://", 1)
        dbname = urlsplit(dsn).path.lstrip("/")
    else:  # SQLite: a fresh file; no connection bound to watch, only the answers and the jobs
        sqlite_path = BASE_DIR / "var" / "bench-web-load.sqlite3"
        for suffix in ("", "-wal", "-shm"):
            Path(f"{sqlite_path}{suffix}").unlink(missing_ok=True)
        env["DATABASE_URL"] = f"sqlite:///{sqlite_path}"
    redis.Redis.from_url(redis_url).flushdb()

    stack = LiveStack(args.port, BASE_DIR / "var" / f"web-load-{args.port}.log", **env)
    base = stack.base
    sampler = None
    try:
        stack.start()
        say(f"stack up ({load()}); log: {stack.log_path}")
        user = f"load-{uuid.uuid4().hex[:8]}"
        token = _request(base, "/auth/register", {"username": user, "password": f"S3cure-{user}-pass"})[
            "accessToken"
        ]
        if postgres:
            sampler = ConnectionSampler(dsn, dbname, stack.proc.pid)
            sampler.start()
        deadline = time.monotonic() + args.seconds
        clients = [Client(base, token, deadline) for _ in range(args.clients)]
        started = time.monotonic()
        for client in clients:
            client.start()
        for client in clients:
            client.join()
        elapsed = time.monotonic() - started
        load_during = load()
        statuses: Counter = Counter()
        errors: Counter = Counter()
        latencies: list[float] = []
        job_ids: list[int] = []
        for client in clients:
            statuses.update(client.statuses)
            errors.update(client.errors)
            latencies += client.latencies_ms
            job_ids += client.job_ids
        requests = sum(statuses.values())
        server_errors = sum(n for code, n in statuses.items() if code >= 500)
        say(f"{args.clients} clients for {args.seconds:.0f} s ({load_during}): {requests} requests, "
            f"{requests / elapsed:.0f}/s; statuses {dict(sorted(statuses.items()))}; "
            f"connection errors {dict(errors) or 0}")
        say(f"latency p50 {pct(latencies, 50):.0f} ms, p99 {pct(latencies, 99):.0f} ms, "
            f"max {max(latencies, default=0):.0f} ms, mean {statistics.fmean(latencies or [0]):.0f} ms")
        say(f"responses >= 500: {server_errors}")

        drain_started = time.monotonic()
        query = (
            "SELECT state, count(*) FROM jobs_job j JOIN auth_user u ON u.id = j.owner_id "
            "WHERE u.username = {} GROUP BY state"
        )
        if postgres:
            conn = psycopg.connect(dsn, autocommit=True, application_name=BENCH_APP)
            count_states = lambda: conn.execute(query.format("%s"), [user]).fetchall()  # noqa: E731
        else:
            conn = sqlite3.connect(str(sqlite_path), timeout=60)
            count_states = lambda: conn.execute(query.format("?"), [user]).fetchall()  # noqa: E731
        with conn:
            while True:
                states = dict(count_states())
                completed = states.get("completed", 0)
                done = completed >= len(job_ids) or set(states) <= {"completed", "failed", "cancelled"}
                if done or time.monotonic() - drain_started > args.drain_timeout:
                    break
                time.sleep(1)
        drain_s = time.monotonic() - drain_started
        say(f"jobs accepted {len(job_ids)}, completed {completed} (states {states}); all done "
            f"{drain_s:.0f} s after the load stopped")
        if not postgres:
            ok = server_errors == 0 and not errors and completed == len(job_ids)
            say("OK" if ok else "FAILED")
            return 0 if ok else 1
        sampler.stop_event.set()
        sampler.join()

        pool_max = int(os.environ.get("DB_POOL_MAX_SIZE", _setting_default("DB_POOL_MAX_SIZE")))
        concurrency = _procfile_concurrency(stack.env)
        # Without a pool (DB_POOL_MAX_SIZE=0) the web's connections are bounded by nothing but its
        # concurrent requests: one per request in flight (--clients).
        bounds = {"web": pool_max or args.clients, "beat": 1}
        for name, children in concurrency.items():
            bounds["webhooks worker" if name == "webhooks" else name] = 2 * children
        bound = sum(bounds.values())
        say(f"PostgreSQL connections of database {dbname}: max {sampler.max_total} in "
            f"{sampler.samples} samples (bound {bound}); max per process kind "
            f"{dict(sampler.max_by_kind)} vs bounds {bounds}")
        ok = (
            server_errors == 0
            and not errors
            and completed == len(job_ids)
            and sampler.max_total <= bound
            and all(sampler.max_by_kind[k] <= b for k, b in bounds.items())
        )
        say("OK" if ok else "FAILED")
        return 0 if ok else 1
    finally:
        if sampler is not None:
            sampler.stop_event.set()
        stack.stop()


def _setting_default(name: str) -> str:
    """A setting's default as config/settings.py declares it (``env.int("NAME", default=N)``)."""
    import re

    source = (BASE_DIR / "config" / "settings.py").read_text()
    match = re.search(rf'env\.int\("{name}", default=(\d+)\)', source)
    return match.group(1) if match else "0"


if __name__ == "__main__":
    sys.exit(main())
