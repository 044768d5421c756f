"""Handlers the job tests need, registered through ``JOB_HANDLER_MODULES`` in worker processes."""

import os
import time

from jobs.handlers import handler


@handler("test.flaky", description="Logs the wall-clock time of each attempt and fails until `succeedOn`.")
def flaky(data, ctx):
    data = data or {}
    ctx.log(f"attempt at {time.time():.3f}")
    attempt = ctx.job.attempts_made
    if attempt < data.get("succeedOn", 10**9):
        raise RuntimeError(f"attempt {attempt} failed on purpose")
    return {"attempt": attempt}


@handler("test.unrecoverable", description="Fails with UnrecoverableError.")
def unrecoverable(data, ctx):
    from jobs.handlers.exceptions import UnrecoverableError

    raise UnrecoverableError("no point in retrying")


@handler("test.chatty", description="Streams `n` deltas and logs `n` lines.")
def chatty(data, ctx):
    for i in range(data["n"]):
        ctx.delta(f"{i},")
        ctx.log(f"line {i}")
    return {"n": data["n"]}


@handler("test.self_cancel", description="Asks for its own cancellation, then checks for it.")
def self_cancel(data, ctx):
    from jobs.models import Job

    ctx.progress(40)
    Job.objects.filter(pk=ctx.job.pk).update(cancel_requested=True)
    ctx.check_cancelled()
    return "not reached"


@handler("test.bad_result", description="Returns a value that is not JSON.")
def bad_result(data, ctx):
    return {1, 2}


@handler("test.sleep", description="Sleeps `ms` ms, returns its data and process id; `count` counts runs.")
def sleep(data, ctx):
    if data.get("count"):  # each run of the handler counted in Redis, per job (fault tests)
        import redis
        from django.conf import settings

        redis.Redis.from_url(settings.REDIS_URL).incr(f"test:runs:{ctx.job.pk}")
    time.sleep(data.get("ms", 0) / 1000)
    return {**data, "pid": os.getpid()}
