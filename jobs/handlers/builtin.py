"""Built-in handlers that make the server useful on day one."""

import json
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


HTTP_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


@handler(
    "http.request",
    description="Calls a URL (the classic scheduled job) and returns its status, headers and a bounded body.",
    schema={
        "type": "object",
        "required": ["url"],
        "additionalProperties": False,
        "properties": {
            "url": {"type": "string", "minLength": 1, "maxLength": 2048},
            "method": {"type": "string", "enum": HTTP_METHODS + [m.lower() for m in HTTP_METHODS]},
            "headers": {"type": "object", "additionalProperties": {"type": "string"}},
            "body": {},
            "timeout": {"type": "integer", "minimum": 1, "maximum": 300_000},
            "expectedStatuses": {
                "type": "array", "minItems": 1, "items": {"type": "integer", "minimum": 100, "maximum": 599}
            },
        },
    },
)
def http_request(data, ctx):
    """``{url, method?: GET, headers?, body?, timeout?: ms (10000), expectedStatuses?: [..] (any 2xx)}``.

    ``body`` is sent as is when a string, else as JSON (with ``Content-Type: application/json``
    unless given). Returns ``{status, headers, body, truncated}``; ``body`` is text, at most
    ``JOB_HTTP_MAX_BODY_BYTES``. A status outside ``expectedStatuses`` fails the attempt (retried
    per ``attempts``). Transient errors (the host does not resolve, the connection is refused or
    reset, a timeout) fail the attempt, and the job is retried per its ``attempts`` and ``backoff``.
    Only a URL that can never work fails the job at once, without retries: a malformed URL or one
    refused by ``config.netguard``'s policy (private, loopback, link-local targets unless
    ``ALLOW_PRIVATE_NETWORK_TARGETS``, or loopback under ``ALLOW_LOOPBACK_TARGETS``).
    """
    from django.conf import settings

    from config import netguard

    from .exceptions import UnrecoverableError

    headers = dict(data.get("headers") or {})
    body = data.get("body")
    if body is not None and not isinstance(body, str):
        body = json.dumps(body)
        if not any(k.lower() == "content-type" for k in headers):
            headers["Content-Type"] = "application/json"
    method = data.get("method", "GET").upper()
    try:
        response = netguard.request(
            method, data["url"], headers=headers, body=body.encode() if body is not None else None,
            timeout_s=data.get("timeout", 10_000) / 1000, max_body_bytes=settings.JOB_HTTP_MAX_BODY_BYTES,
        )
    except netguard.UnsafeTarget as exc:
        raise UnrecoverableError(str(exc)) from None
    expected = data.get("expectedStatuses")
    ok = response.status in expected if expected else 200 <= response.status < 300
    ctx.log(f"{method} {data['url']} -> {response.status}")
    if not ok:
        wanted = ", ".join(map(str, expected)) if expected else "2xx"
        raise RuntimeError(f"http.request: status {response.status} is not one of the expected ({wanted})")
    return {
        "status": response.status,
        "headers": response.headers,
        "body": response.body.decode("utf-8", errors="replace"),
        "truncated": response.truncated,
    }
