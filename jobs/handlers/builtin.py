"""Built-in handlers that make the server useful on day one."""

import time

from .registry import handler


@handler("echo", description="Returns its data unchanged.")
def echo(data, ctx):
    return data


@handler(
    "demo.progress",
    description="Runs N steps, reporting progress and streaming a line of text per step.",
    schema={
        "type": "object",
        "properties": {
            "steps": {"type": "integer", "minimum": 1, "maximum": 1000},
            "delayMs": {"type": "integer", "minimum": 0, "maximum": 60000},
        },
        "additionalProperties": True,
    },
)
def demo_progress(data, ctx):
    data = data if isinstance(data, dict) else {}
    steps = int(data.get("steps", 5))
    delay_s = int(data.get("delayMs", 200)) / 1000
    for step in range(1, steps + 1):
        ctx.check_cancelled()
        time.sleep(delay_s)
        ctx.delta(f"step {step} of {steps} done\n")
        ctx.progress(round(step * 100 / steps))
    return {"steps": steps}
