"""Contract fuzzing of the LIVE server (``make fuzz``): schemathesis, every check, on make run's processes.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/<db> REDIS_URL=redis://127.0.0.1:6379/<N> \
        .venv/bin/python scripts/fuzz_live.py [--examples 30] [--port 8000] [--workers 2]

It starts ``python -m config.devstack run`` (web, worker, webhooks worker and beat, as ``make run``)
on that PostgreSQL database and Redis database (FLUSHED first: give it its own), registers a fresh
user, and runs ``schemathesis run <server>/api-docs.json --checks all --max-examples N`` with that
user's Bearer token on every request and the settings in ``scripts/fuzz_live.toml`` (what a 400 to
a body that fits the document means): whatever operations the served OpenAPI document describes,
so the target keeps working as the document changes. The stack runs with the login/registration
throttles raised and a long access-token lifetime (the fuzzer's own budget, not a relaxed rule
under test); everything else is as ``make run`` has it.

Printed: operations, requests sent, responses by status class, responses >= 500 (each listed),
and failed checks (spec violations) by check. Exit status 0 only when there was no response >= 500
and no failed check. Reports (HAR of every request and response, JUnit) stay in ``var/fuzz/``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import urllib.request
import uuid
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(BASE_DIR))

from config.devstack import LiveStack  # noqa: E402

CONFIG = BASE_DIR / "scripts" / "fuzz_live.toml"  # what a 400 means for bodies (read it)

# The fuzzer's budget on the stack it starts (module docstring).
STACK_ENV = {
    "JWT_ACCESS_MINUTES": "600",
    "THROTTLE_LOGIN": "100000/minute",
    "THROTTLE_REGISTER": "100000/minute",
    "THROTTLE_PASSWORD_RESET": "100000/minute",
    "THROTTLE_PASSWORD_RESET_CONFIRM": "100000/minute",
    "LOG_LEVEL": "WARNING",
}


def say(message: str) -> None:
    print(f"[fuzz] {message}", flush=True)


def _register(base: str) -> str:
    name = f"fuzz-{uuid.uuid4().hex[:8]}"
    body = json.dumps({"username": name, "password": f"S3cure-{name}-pass"}).encode()
    request = urllib.request.Request(
        base + "/auth/register", data=body, headers={"Content-Type": "application/json"}, method="POST"
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())["accessToken"]


def _har_statuses(path: Path) -> tuple[Counter, list[str]]:
    entries = json.loads(path.read_text())["log"]["entries"]
    statuses = Counter(entry["response"]["status"] for entry in entries)
    errors = [
        f"{entry['request']['method']} {entry['request']['url']} -> {entry['response']['status']}"
        for entry in entries
        if entry["response"]["status"] >= 500
    ]
    return statuses, errors


def _junit_failures(path: Path) -> tuple[int, Counter, list[str]]:
    """``(test cases, failures by check, first lines of each failure)`` from schemathesis' JUnit report."""
    root = ET.parse(path).getroot()
    cases = list(root.iter("testcase"))
    by_check: Counter = Counter()
    lines: list[str] = []
    for case in cases:
        for failure in [*case.findall("failure"), *case.findall("error")]:
            text = (failure.get("message") or "") + "\n" + (failure.text or "")
            # Each failed check is a line "- ST201 Schema-violating request accepted" (its code and title).
            titles = [line.strip()[2:] for line in text.splitlines() if line.strip().startswith("- ")]
            for title in titles or [(text.strip().splitlines() or ["error"])[0]]:
                by_check[title] += 1
            lines.append(f"{case.get('name')}: {(text.strip().splitlines() or ['?'])[0][:200]}")
    return len(cases), by_check, lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--examples", type=int, default=30, help="examples per operation (issue 13: >= 30)")
    parser.add_argument("--port", type=int, default=8000)
    # One worker: hypothesis' lambda descriptions are not thread-safe ("AST constructor recursion
    # depth mismatch" runtime errors with two).
    parser.add_argument("--workers", default="1", help="schemathesis workers")
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args()
    database_url, redis_url = os.environ.get("DATABASE_URL", ""), os.environ.get("REDIS_URL", "")
    if not database_url.startswith("postgres") or not redis_url:
        raise SystemExit("set DATABASE_URL (PostgreSQL) and REDIS_URL (a Redis database of your own)")
    import redis

    redis.Redis.from_url(redis_url).flushdb()
    reports = BASE_DIR / "var" / "fuzz"
    reports.mkdir(parents=True, exist_ok=True)
    har, junit = reports / "requests.har", reports / "junit.xml"
    for old in (har, junit):
        old.unlink(missing_ok=True)
    with LiveStack(args.port, reports / "stack.log", **STACK_ENV) as stack:
        token = _register(stack.base)
        say(f"stack up on {stack.base} (PostgreSQL, JWT); schemathesis, all checks, {args.examples} examples")
        command = [
            str(Path(sys.executable).parent / "schemathesis"), "--config-file", str(CONFIG),
            "run", f"{stack.base}/api-docs.json",
            "--checks", "all", "--max-examples", str(args.examples), "--seed", str(args.seed),
            "--workers", args.workers, "--header", f"Authorization: Bearer {token}",
            "--request-timeout", "60", "--suppress-health-check", "all", "--continue-on-failure",
            "--report", "har,junit", "--report-har-path", str(har), "--report-junit-path", str(junit),
            "--output-truncate", "true",
        ]
        result = subprocess.run(command, cwd=BASE_DIR, capture_output=True, text=True)
    (reports / "schemathesis.log").write_text(result.stdout + result.stderr)
    if not har.exists() or not junit.exists():
        print(result.stdout[-5000:] + result.stderr[-3000:])
        raise SystemExit("schemathesis produced no report")
    statuses, server_errors = _har_statuses(har)
    cases, by_check, failures = _junit_failures(junit)
    classes = Counter(f"{code // 100}xx" for code in statuses.elements())
    requests = sum(statuses.values())
    say(f"operations: {cases}; requests: {requests}; by status: {dict(sorted(classes.items()))}")
    say(f"responses >= 500: {len(server_errors)}")
    for line in server_errors[:50]:
        say(f"  {line}")
    say(f"failed checks (spec violations): {sum(by_check.values())} {dict(by_check) or ''}")
    for line in failures[:50]:
        say(f"  {line}")
    say(f"reports: {reports}")
    ok = not server_errors and not by_check and result.returncode == 0
    if not ok and not failures and not server_errors:
        print(result.stdout[-3000:])
    say("OK" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
