"""HTTP request bodies in front of Django's ASGI handler: one size limit, and chunked bodies made readable.

Django's ASGI handler reads the whole body before anything else runs (to a temporary file, without a
limit), and a request without ``Content-Length`` reads as empty to Django and DRF: a chunked POST
(``Transfer-Encoding: chunked``) of a valid job answered 400 "name required". So, for every HTTP
request, before Django:

- a declared ``Content-Length`` over ``DATA_UPLOAD_MAX_MEMORY_SIZE`` is answered 413 and Django never
  sees it (``config.exceptions`` gives the same answer inside Django, e.g. to the test client);
- a body without ``Content-Length`` is read here, up to that limit (413 ``request body: more than N
  bytes`` as soon as it goes past), and handed to Django with its ``Content-Length``, so the
  API, the pages and the admin read it like any other body.

Websocket and lifespan scopes pass through untouched.
"""

from __future__ import annotations

import json

from django.conf import settings


def _header(headers, name: bytes) -> bytes | None:
    for key, value in headers:
        if key.lower() == name:
            return value
    return None


async def _send_413(send, message: str) -> None:
    body = json.dumps({"message": message, "errors": {}}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": 413,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


# Before a 413, up to this many times the limit is read (and dropped), so a client still sending gets to
# read the answer instead of a reset connection (uvicorn closes a connection whose body was not read,
# and stops reading once the answer is sent); a larger body gets the answer at once, then the close.
DRAIN_FACTOR = 4


async def _drain(receive, budget: int) -> None:
    while budget > 0:
        message = await receive()
        if message["type"] != "http.request" or not message.get("more_body", False):
            return
        budget -= len(message.get("body", b""))


class RequestBodies:
    """ASGI middleware (module docstring) around the Django application."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        headers = scope.get("headers", [])
        declared = _header(headers, b"content-length")
        if declared is not None:
            text = declared.decode("latin-1").strip()
            if limit is not None and text.isdigit() and (len(text) > 18 or int(text) > limit):
                shown = text if len(text) <= 20 else text[:20] + "..."
                refusal = f"request body: {shown} bytes is larger than the limit of {limit} bytes"
                if len(text) <= 18 and int(text) <= DRAIN_FACTOR * limit:
                    await _drain(receive, DRAIN_FACTOR * limit)
                return await _send_413(send, refusal)
            return await self.app(scope, receive, send)

        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return None  # the client left before sending its body
            chunk = message.get("body", b"")
            size += len(chunk)
            if limit is not None and size > limit:
                refusal = f"request body: more than {limit} bytes; the limit is {limit} bytes"
                if message.get("more_body", False):
                    await _drain(receive, DRAIN_FACTOR * limit - size)
                return await _send_413(send, refusal)
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if body:
            kept = [(k, v) for k, v in headers if k.lower() != b"transfer-encoding"]
            scope = {**scope, "headers": [*kept, (b"content-length", str(len(body)).encode())]}
        replayed = False

        async def replay():
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # Django listens for the client's disconnect

        return await self.app(scope, replay, send)
