"""Outbound HTTP to user-supplied URLs, refusing private networks (SSRF guard).

Shared by webhook deliveries and the ``http.request`` handler. A URL is refused when its scheme
is not http(s) or when ANY address its host resolves to is loopback, private (RFC 1918, RFC 4193),
link-local (incl. cloud metadata 169.254.169.254), multicast, reserved or unspecified, or an IPv6 form
that embeds such an IPv4 address (6to4, NAT64, IPv4-mapped, Teredo, ...: judged by the embedded
address) -- unless the operator setting ``ALLOW_PRIVATE_NETWORK_TARGETS`` is on.
``ALLOW_LOOPBACK_TARGETS`` (on only under ``DEBUG``, i.e. ``make run``) lets loopback addresses
through and nothing else, so a developer can try webhooks and ``http.request`` against a receiver on
their own machine. The check is repeated at request time and the connection is made to the very
address that was checked (the host name is kept for TLS SNI, certificate checks and the Host
header), so a DNS answer that changes between check and connect cannot redirect the request.
Redirects are never followed. A host that does not resolve is :class:`TargetUnresolved` (transient:
retried), not a refusal.
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


_NAT64 = ipaddress.ip_network("64:ff9b::/96")  # RFC 6052 well-known prefix
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")  # RFC 8215 local-use: a private network's translator
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")  # deprecated IPv4-compatible addresses
_IPV4_TRANSLATED = ipaddress.ip_network("::ffff:0:0:0/96")  # RFC 2765 IPv4-translated


def _plain_public(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    return not (
        ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_multicast
        or ip.is_reserved or ip.is_unspecified or not ip.is_global
    )


def embedded_ipv4(ip: ipaddress.IPv6Address) -> tuple[list[ipaddress.IPv4Address], bool]:
    """The IPv4 addresses an IPv6 address carries, and whether it is only a translation of them.

    Translation forms (the packet goes to the IPv4 address): IPv4-mapped ``::ffff:0:0/96``,
    IPv4-compatible ``::/96``, IPv4-translated ``::ffff:0:0:0/96``, NAT64 ``64:ff9b::/96`` (last 32
    bits), 6to4 ``2002::/16`` (bits 16-47) and Teredo ``2001::/32`` (its server and its client).
    ISATAP (interface id ``0:5efe`` / ``200:5efe``) embeds the IPv4 address of a tunnel end, but its
    prefix routes on its own: both are checked. ``([], False)`` when nothing is embedded.
    """
    last32 = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    if ip.ipv4_mapped is not None:
        return [ip.ipv4_mapped], True
    if ip.sixtofour is not None:
        return [ip.sixtofour], True
    if ip.teredo is not None:
        return list(ip.teredo), True
    if ip in _NAT64 or ip in _IPV4_TRANSLATED:
        return [last32], True
    if ip in _IPV4_COMPATIBLE and int(ip) > 1:  # not :: nor ::1, which are IPv6's own
        return [last32], True
    if (int(ip) >> 32) & 0xFDFFFFFF == 0x00005EFE:
        return [last32], False
    return [], False


def is_public_address(address: str) -> bool:
    """Whether ``address`` may be requested: not loopback, private (RFC 1918, RFC 4193), link-local
    (cloud metadata 169.254.169.254 included), multicast, reserved, unspecified or otherwise
    non-global. An IPv6 address embedding IPv4 addresses (:func:`embedded_ipv4`) is judged by those:
    6to4 ``2002:7f00:1::`` is 127.0.0.1 (issue 13); NAT64 of a public host is public, as DNS64 gives it
    to IPv6-only networks. The local-use NAT64 prefix ``64:ff9b:1::/48`` is never public.
    """
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address):
        if ip in _NAT64_LOCAL:
            return False
        embedded, translation = embedded_ipv4(ip)
        if embedded:
            inner_public = all(_plain_public(v4) for v4 in embedded)
            return inner_public if translation else inner_public and _plain_public(ip)
    return _plain_public(ip)


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
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if not allow:
        blocked = [
            a for a in addresses if not is_public_address(a) and not (allow_loopback and _is_loopback(a))
        ]
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
    pool: urllib3.HTTPConnectionPool
    if target.scheme == "https":
        pool = urllib3.HTTPSConnectionPool(
            target.address,
            target.port,
            server_hostname=target.host,
            assert_hostname=target.host,
            timeout=timeout,
            retries=False,
            maxsize=1,
        )
    else:
        pool = urllib3.HTTPConnectionPool(
            target.address, target.port, timeout=timeout, retries=False, maxsize=1
        )
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
