"""Webhook signatures in the Standard Webhooks convention (https://www.standardwebhooks.com/).

A secret is ``whk_`` + 43 URL-safe random characters (256 bits); the HMAC key is the secret's own
UTF-8 bytes, as most providers do, so a receiver can use the string it was shown as the key. The
same key in the Standard Webhooks spelling (``whsec_`` + base64 of the key bytes) is returned beside
it as ``standardSecret`` for Standard Webhooks libraries, and :func:`secret_key` also accepts a
``whsec_`` secret (the spec's rule: the key is the base64-decoded part). Each request carries:

- ``webhook-id``: the delivery's message id (the same on every retry of one event),
- ``webhook-timestamp``: integer seconds since the epoch (UTC) when the attempt was signed,
- ``webhook-signature``: ``v1,`` + base64(HMAC-SHA256(key, f"{id}.{timestamp}.{body}")).

A receiver checks it with hmac/hashlib/base64 only (README, "Webhooks")::

    key = secret.encode()
    signed = f"{h['webhook-id']}.{h['webhook-timestamp']}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    ok = any(hmac.compare_digest(expected, s.split(",", 1)[1]) for s in h["webhook-signature"].split())
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import time
from collections.abc import Mapping

SECRET_PREFIX = "whk_"
STANDARD_PREFIX = "whsec_"
SECRET_BYTES = 32
DEFAULT_TOLERANCE_S = 5 * 60  # the spec's replay window


def generate_secret() -> str:
    """A new signing secret: ``whk_`` + 32 random bytes as URL-safe base64 (43 characters)."""
    return SECRET_PREFIX + secrets.token_urlsafe(SECRET_BYTES)


def secret_key(secret: str) -> bytes:
    """The HMAC key of ``secret``: its UTF-8 bytes, or for a ``whsec_`` secret the base64-decoded
    part after the prefix (Standard Webhooks); an undecodable ``whsec_`` secret is used as bytes."""
    if secret.startswith(STANDARD_PREFIX):
        try:
            return base64.b64decode(secret[len(STANDARD_PREFIX) :], validate=True)
        except (binascii.Error, ValueError):
            pass
    return secret.encode()


def standard_secret(secret: str) -> str:
    """The same key in the Standard Webhooks spelling: ``whsec_`` + base64 of :func:`secret_key`."""
    if secret.startswith(STANDARD_PREFIX):
        return secret
    return STANDARD_PREFIX + base64.b64encode(secret_key(secret)).decode()


def sign(secret: str, msg_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` header value ``v1,<base64 HMAC-SHA256>`` for one request.

    ``timestamp`` is integer epoch seconds; ``body`` the exact bytes sent.
    """
    signed = f"{msg_id}.{int(timestamp)}.".encode() + body
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return "v1," + base64.b64encode(digest).decode()


def verify(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    *,
    tolerance_s: float | None = DEFAULT_TOLERANCE_S,
    now: float | None = None,
) -> bool:
    """True when ``headers`` carry a valid ``v1`` signature of ``body`` for ``secret``.

    ``headers`` may use any letter case. With ``tolerance_s`` (default 300 s, the spec's value) a
    timestamp further than that from ``now`` (epoch seconds, default the clock) is refused, which
    stops replays of an old captured request; pass ``None`` to skip that check. Several
    space-separated signatures (as during a secret rotation) are accepted if any one matches.
    """
    h = {k.lower(): v for k, v in headers.items()}
    msg_id, stamp, signatures = h.get("webhook-id"), h.get("webhook-timestamp"), h.get("webhook-signature")
    if not msg_id or not stamp or not signatures:
        return False
    try:
        timestamp = int(stamp)
    except ValueError:
        return False
    if tolerance_s is not None and abs((time.time() if now is None else now) - timestamp) > tolerance_s:
        return False
    expected = sign(secret, msg_id, timestamp, body).split(",", 1)[1]
    for candidate in signatures.split():
        version, _, value = candidate.partition(",")
        if version == "v1" and hmac.compare_digest(expected.encode(), value.encode()):
            return True
    return False
