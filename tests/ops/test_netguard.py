"""The SSRF guard (``config.netguard``) judges an IPv6 address that embeds an IPv4 address by that IPv4
address: 6to4 (2002::/16), NAT64 (64:ff9b::/96, and the local-use 64:ff9b:1::/48), IPv4-mapped and
-compatible, IPv4-translated, Teredo (server and client) and ISATAP (issue 13, item 7)."""

from __future__ import annotations

import pytest
from django.test import override_settings

from config import netguard

REFUSED = [
    "2002:7f00:1::",  # 6to4 of 127.0.0.1
    "2002:a00:1::1",  # 6to4 of 10.0.0.1
    "2002:a9fe:a9fe::",  # 6to4 of 169.254.169.254 (cloud metadata)
    "64:ff9b::7f00:1",  # NAT64 of 127.0.0.1
    "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
    "64:ff9b:1::a00:1",  # local-use NAT64 prefix (RFC 8215): a private network's translator
    "::ffff:127.0.0.1",  # IPv4-mapped
    "::ffff:0:a00:1",  # IPv4-translated (RFC 2765) of 10.0.0.1
    "::127.0.0.1",  # IPv4-compatible (deprecated)
    "2001:0:4136:e378:8000:63bf:80ff:fffe",  # Teredo, client 127.0.0.1
    "2001:0:a00:1:8000:63bf:f7f7:f7f7",  # Teredo, server 10.0.0.1
    "2001:db8:1:2:0:5efe:a00:1",  # ISATAP interface of 10.0.0.1
]
ALLOWED = [
    "2002:808:808::1",  # 6to4 of 8.8.8.8
    "64:ff9b::808:808",  # NAT64 of 8.8.8.8 (what DNS64 answers for a public host on an IPv6-only network)
    "2606:4700:4700::1111",  # a plain public IPv6 address
]


@pytest.mark.parametrize("address", REFUSED)
def test_embedded_private_ipv4_is_refused(address):
    assert netguard.is_public_address(address) is False
    with override_settings(ALLOW_PRIVATE_NETWORK_TARGETS=False):
        with pytest.raises(netguard.UnsafeTarget) as caught:
            netguard.resolve(f"http://[{address}]/hook")
    assert str(caught.value).startswith(f"url: host '{address}' resolves to a private, loopback")


@pytest.mark.parametrize("address", ALLOWED)
def test_embedded_public_ipv4_and_public_ipv6_are_allowed(address):
    assert netguard.is_public_address(address) is True


@pytest.mark.parametrize("address", ["127.0.0.1", "10.1.2.3", "169.254.169.254", "::1", "fe80::1", "fc00::1"])
def test_plain_private_addresses_stay_refused(address):
    assert netguard.is_public_address(address) is False
