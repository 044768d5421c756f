"""Handlers used only by the scheduling end-to-end tests (loaded in workers via ``JOB_HANDLER_MODULES``)."""

from jobs.handlers.registry import handler


@handler("test.always_fails", description="Fails every attempt (retry tests).")
def always_fails(data, ctx):
    raise RuntimeError("this handler always fails")
