"""Send one signed delivery request through the SSRF-guarded client (``config.netguard``).

Never raises for a network problem: every outcome, including a refused target, comes back as a
:class:`SendResult` so the caller can record it on the attempt row.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from config import netguard


@dataclass(frozen=True)
class SendResult:
    status_code: int | None  # None: no HTTP answer (refused target, connection error, timeout)
    response_body: str  # at most ``max_body_bytes`` of the answer, decoded leniently
    latency_ms: int
    error: str  # empty on an HTTP answer
    permanent: bool  # never retried (the SSRF guard refused the target, or it was not sent at all)
    retry_after: str | None  # the answer's Retry-After header, if any
    location: str | None  # a redirect's Location (never followed)


def post_json(
    url: str, body: bytes, headers: dict[str, str], *, timeout_s: float, max_body_bytes: int
) -> SendResult:
    """POST ``body`` (JSON bytes) to ``url`` with ``headers``; ``timeout_s`` bounds connect and each read."""
    started = time.monotonic()
    send_headers = {"Content-Type": "application/json", **headers}
    try:
        resp = netguard.request(
            "POST", url, headers=send_headers, body=body, timeout_s=timeout_s, max_body_bytes=max_body_bytes
        )
    except netguard.UnsafeTarget as exc:
        return SendResult(None, "", _ms(started), f"refused: {exc}", True, None, None)
    except Exception as exc:  # urllib3 connection errors, timeouts, TLS errors: all transient to us
        return SendResult(None, "", _ms(started), f"{type(exc).__name__}: {exc}"[:1000], False, None, None)
    lower = {k.lower(): v for k, v in resp.headers.items()}
    return SendResult(
        resp.status,
        resp.body.decode("utf-8", errors="replace"),
        _ms(started),
        "",
        False,
        lower.get("retry-after"),
        lower.get("location"),
    )


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
