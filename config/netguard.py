"""Outbound HTTP to user-supplied URLs, refusing private networks (SSRF guard).

Shared by webhook deliveries and the ``http.request`` handler. A URL is refused when its scheme
is not http(s) or when ANY address its host resolves to is loopback, private (RFC 1918, RFC 4193),
link-local (incl. cloud metadata 169.254.169.254), multicast, reserved or unspecified -- unless the
operator setting ``ALLOW_PRIVATE_NETWORK_TARGETS`` is on. ``ALLOW_LOOPBACK_TARGETS`` (on only under
``DEBUG``, i.e. ``make run``) lets loopback addresses through and nothing else, so a developer can
try webhooks and ``http.request`` against a receiver on their own machine. The check is repeated at
request time and the connection is made to the very address that was checked (the host name is kept
for TLS SNI, certificate checks and the Host header), so a DNS answer that changes between check and
connect cannot redirect the request. Redirects are never followed. A host that does not resolve is
:class:`TargetUnresolved` (transient: retried), not a refusal.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

import urllib3
from django.conf import settings

METADATA_HOSTS = {"metadata.google.internal", "metadata", "instance-data"}


class UnsafeTarget(ValueError):
    """The URL may not be requested: malformed, bad scheme, or a non-public address (a policy refusal)."""


class TargetUnresolved(OSError):
    """The URL's host does not resolve now: a transient failure (DNS outage), retried by callers."""


def _is_loopback(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return ip.is_loopback


def _is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return not (
        ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_multicast
        or ip.is_reserved or ip.is_unspecified or not ip.is_global
    )


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    address: str  # the checked IP the connection goes to
    path: str     # path + query


def resolve(url: str, *, allow_private: bool | None = None) -> Target:
    """Check ``url`` and pick the address to connect to.

    Raises :class:`UnsafeTarget` naming the rule, or :class:`TargetUnresolved` when the host does not
    resolve (which may pass: callers retry it).
    """
    allow = settings.ALLOW_PRIVATE_NETWORK_TARGETS if allow_private is None else allow_private
    allow_loopback = getattr(settings, "ALLOW_LOOPBACK_TARGETS", False)
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise UnsafeTarget("url: not a valid URL") from None
    if parts.scheme not in ("http", "https"):
        raise UnsafeTarget("url: only http and https URLs are allowed")
    host = (parts.hostname or "").rstrip(".").lower()
    if not host:
        raise UnsafeTarget("url: has no host")
    if parts.username or parts.password:
        raise UnsafeTarget("url: credentials in the URL are not allowed")
    port = port or (443 if parts.scheme == "https" else 80)
    if host in METADATA_HOSTS and not allow:
        raise UnsafeTarget(f"url: host '{host}' is a cloud metadata service")
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except UnicodeError:
        raise UnsafeTarget(f"url: host '{host}' is not a valid host name") from None
    except OSError as exc:  # socket.gaierror: no such name, or no DNS answer right now
        raise TargetUnresolved(f"url: host '{host}' does not resolve ({exc.strerror or exc})") from None
    addresses = list(dict.fromkeys(info[4][0] for info in infos))
    if not allow:
        blocked = [a for a in addresses if not _is_public(a) and not (allow_loopback and _is_loopback(a))]
        if blocked:
            raise UnsafeTarget(
                f"url: host '{host}' resolves to a private, loopback, link-local or reserved address "
                f"({blocked[0]}); such targets are refused unless the operator sets "
                "ALLOW_PRIVATE_NETWORK_TARGETS"
            )
    path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    return Target(parts.scheme, host, port, addresses[0], path)


def check_url(url: str) -> None:
    """Validate a URL at creation time (same rules as at request time). Raises :class:`UnsafeTarget`,
    also for a host that does not resolve (a URL saved now should work now)."""
    try:
        resolve(url)
    except TargetUnresolved as exc:
        raise UnsafeTarget(str(exc)) from None


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes  # at most ``max_body_bytes``
    truncated: bool


def request(
    method: str,
    url: str,
    *,
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
    timeout_s: float = 10.0,
    max_body_bytes: int = 64 * 1024,
) -> Response:
    """Send one HTTP request to ``url`` after the SSRF check, without following redirects.

    Returns the status, headers and at most ``max_body_bytes`` of the body. Raises
    :class:`UnsafeTarget` for a refused URL, :class:`TargetUnresolved` when the host does not
    resolve, and ``urllib3.exceptions.HTTPError`` subclasses for connection errors and timeouts
    (``timeout_s`` bounds connect and each read).
    """
    target = resolve(url)
    timeout = urllib3.Timeout(connect=timeout_s, read=timeout_s)
    kwargs = {"timeout": timeout, "retries": False, "maxsize": 1}
    if target.scheme == "https":
        pool = urllib3.HTTPSConnectionPool(
            target.address, target.port, server_hostname=target.host, assert_hostname=target.host, **kwargs
        )
    else:
        pool = urllib3.HTTPConnectionPool(target.address, target.port, **kwargs)
    default_port = 443 if target.scheme == "https" else 80
    host_header = target.host if target.port == default_port else f"{target.host}:{target.port}"
    send_headers = {"Host": host_header, "User-Agent": "jobserver", **(headers or {})}
    try:
        resp = pool.urlopen(
            method.upper(), target.path, body=body, headers=send_headers, redirect=False,
            preload_content=False, assert_same_host=False,
        )
        try:
            data = resp.read(max_body_bytes + 1)
        finally:
            resp.release_conn()
    finally:
        pool.close()
    return Response(
        status=resp.status,
        headers=dict(resp.headers),
        body=data[:max_body_bytes],
        truncated=len(data) > max_body_bytes,
    )
