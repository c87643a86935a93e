"""Where webhooks may go: http and https URLs only, and never to link-local addresses
(169.254.0.0/16, fe80::/10), where cloud metadata services answer and hand out credentials,
unless `[events] allow_link_local` says this network needs them. The host is checked when a
subscription is written and its addresses again before each request (a name may change)."""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from storage.errors import SubscriptionInvalid

# Metadata services outside the link-local ranges (AWS over IPv6, Alibaba Cloud).
METADATA = {ipaddress.ip_address("fd00:ec2::254"), ipaddress.ip_address("100.100.100.200")}


class Refused(Exception):
    pass


def check_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise SubscriptionInvalid(f"webhook URL {url[:200]!r}: only http:// and https:// URLs with a host")
    if parts.username or parts.password:
        raise SubscriptionInvalid("webhook URL: put credentials in a signature secret, not in the URL")
    return url


def forbidden(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_link_local or ip in METADATA


def check_host(url: str, allow_link_local: bool) -> None:
    """Refused when the URL's host is, or resolves to, a forbidden address."""
    if allow_link_local:
        return
    parts = urlsplit(url)
    host = parts.hostname or ""
    try:
        infos = socket.getaddrinfo(
            host, parts.port or (443 if parts.scheme == "https" else 80), type=socket.SOCK_STREAM
        )
    except OSError:
        return  # unresolvable: the request fails on its own
    for info in infos:
        address = str(info[4][0])
        if forbidden(address):
            raise Refused(f"{host} resolves to {address}, a link-local or metadata address ([events] allow_link_local)")
