"""Handlers the flow tests need, registered through ``JOB_HANDLER_MODULES`` in worker processes.

Each counts its runs in Redis (``test:flows:runs:<job id>``) so tests can assert a handler ran once.
"""

import time

import redis
from django.conf import settings

from jobs.handlers import handler


def _count_run(ctx) -> None:
    redis.Redis.from_url(settings.REDIS_URL).incr(f"test:flows:runs:{ctx.job.pk}")


def runs(job_id: int) -> int:
    value = redis.Redis.from_url(settings.REDIS_URL).get(f"test:flows:runs:{job_id}")
    return int(value or 0)


@handler("test.value", description="Returns data.value after data.sleepMs (checking for a cancel).")
def value(data, ctx):
    _count_run(ctx)
    end = time.monotonic() + (data or {}).get("sleepMs", 0) / 1000
    while time.monotonic() < end:
        ctx.check_cancelled()
        time.sleep(0.05)
    return data["value"]


@handler("test.sum", description="data.add plus the sum of its children's values; lists ignored failures.")
def sum_children(data, ctx):
    _count_run(ctx)
    values = ctx.children_values()
    return {
        "sum": (data or {}).get("add", 0)
        + sum(v if isinstance(v, int) else v["sum"] for v in values.values()),
        "children": len(values),
        "ignored": sorted(ctx.ignored_failures().values()),
    }


@handler("test.concat", description="Concatenates its children's values in the order of their job ids.")
def concat(data, ctx):
    _count_run(ctx)
    values = ctx.children_values()
    return (data or {}).get("prefix", "") + "".join(str(values[k]) for k in sorted(values, key=int))


@handler("test.boom", description="Fails with RuntimeError('boom').")
def boom(data, ctx):
    _count_run(ctx)
    raise RuntimeError("boom")


@handler("test.fail_once", description="Fails on its first attempt, returns data.value afterwards.")
def fail_once(data, ctx):
    _count_run(ctx)
    if ctx.job.attempts_made == 1:
        raise RuntimeError("first attempt fails")
    return data["value"]
