"""Which addresses the service may send a request to on an operator's say-so: a webhook's
receiver. (A run's base URL has its own, stricter rule: :mod:`bot.serve.targets`.)

A URL whose host resolves only to public (globally routable) addresses is allowed (unless the
caller says ``public_ok=False``: then only what is allowed explicitly, as a run's base URL must
be the selector map's site or one the operator allowed). A private,
link-local (cloud metadata at 169.254.169.254), shared (100.64/10), reserved or unspecified
address is refused unless the operator allowed it at start: an allowance is a URL prefix
(``http://10.0.0.5:9000/hooks``: scheme, host and port equal, the path under it) or a network
(``192.168.0.0/16``: every address the host resolves to inside it). Loopback is accepted when the
caller says so (a webhook receiver on this machine: a local relay, a test).

The host is resolved when the URL is checked; a caller that sends later checks again then (a
name can be pointed elsewhere after its registration).
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Sequence
from urllib.parse import urlsplit

__all__ = ["Addresses", "is_allowed_target", "resolve", "target_problem"]

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Addresses = Callable[[str, int], list[IPAddress]]
_DEFAULT_PORTS = {"http": 80, "https": 443}


def resolve(host: str, port: int) -> list[IPAddress]:
    """Every address ``host`` resolves to (blocking: DNS); a literal address is itself."""
    try:
        return [_plain(ipaddress.ip_address(host))]
    except ValueError:
        pass
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return sorted({_plain(ipaddress.ip_address(info[4][0])) for info in infos}, key=str)


def _plain(address: IPAddress) -> IPAddress:
    """An IPv4-mapped IPv6 address (``::ffff:10.0.0.1``) as the IPv4 address it is."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped
    return address


def _port(scheme: str, port: int | None) -> int:
    return port if port is not None else _DEFAULT_PORTS.get(scheme, 0)


def _matches_prefix(url: str, entry: str) -> bool:
    """``url`` is under the allowed URL ``entry``: same scheme, host and port; path below."""
    got, allowed = urlsplit(url), urlsplit(entry)
    try:
        ports = _port(got.scheme, got.port), _port(allowed.scheme, allowed.port)
    except ValueError:
        return False
    if (got.scheme, (got.hostname or "").lower(), ports[0]) != (
        allowed.scheme,
        (allowed.hostname or "").lower(),
        ports[1],
    ):
        return False
    base = allowed.path.rstrip("/")
    return not base or got.path == base or got.path.startswith(base + "/")


def _network(entry: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    if "://" in entry:
        return None
    try:
        return ipaddress.ip_network(entry, strict=False)
    except ValueError:
        return None


def target_problem(
    url: str,
    allowed: Sequence[str] = (),
    *,
    loopback_ok: bool = False,
    public_ok: bool = True,
    addresses: Addresses = resolve,
) -> str | None:
    """None when the service may send to ``url``; else what is wrong, in English (it names the
    address it refused, never more of the URL than its host). ``allowed``: the operator's
    allowances (URL prefixes or networks). ``addresses`` resolves a host (tests pass their
    own)."""
    parts = urlsplit(url)
    if parts.scheme not in _DEFAULT_PORTS:
        return "must be an http:// or https:// URL"
    if not parts.hostname:
        return "must name a host"
    if parts.username is not None or parts.password is not None:
        return "must not hold a user or password (put a token in the path or query instead)"
    try:
        port = _port(parts.scheme, parts.port)
    except ValueError:
        return "has a port that is not a number from 0 to 65535"
    if any(_matches_prefix(url, entry) for entry in allowed if "://" in entry):
        return None
    try:
        found = [_plain(ipaddress.ip_address(parts.hostname))]
    except ValueError:
        found = None
    try:
        found = found or addresses(parts.hostname, port)
    except (OSError, UnicodeError):
        return f"names a host that does not resolve ({parts.hostname})"
    if not found:
        return f"names a host that does not resolve ({parts.hostname})"
    networks = [n for n in (_network(entry) for entry in allowed) if n is not None]
    for address in found:
        if address.is_loopback and loopback_ok:
            continue
        if any(address in network for network in networks):
            continue
        public = address.is_global and not address.is_multicast
        if public and public_ok:
            continue
        if public:
            return f"is not among the addresses allowed ({parts.hostname}); allow it when starting"
        return (
            f"reaches a private or reserved address ({address}); if that is meant, allow "
            "it explicitly when starting the service"
        )
    return None


def is_allowed_target(
    url: str, allowed: Sequence[str] = (), *, loopback_ok: bool = False, public_ok: bool = True
) -> bool:
    """Whether the service may send to ``url`` (see :func:`target_problem`)."""
    return target_problem(url, allowed, loopback_ok=loopback_ok, public_ok=public_ok) is None
