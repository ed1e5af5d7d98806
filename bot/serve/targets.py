"""Where the service's browser may be sent: no open relay.

An API caller (a token holder, a logged-in operator) chooses a run's ``base_url``; the service's
browser opens it and keeps screenshots of what it shows. Unchecked, anyone with a token could
point it at an internal address (a router's page, a cloud's metadata service) and read the page
back as ``final.png``. So a run may only go to:

- the selector map's site (the real MIIT site), as long as its name does not resolve to a
  private, loopback, link-local, reserved or metadata address; or
- an origin the operator allowed at start: ``icpbot serve --base-url URL`` (the runs' default)
  and ``--allow-base-url URL`` (repeatable; the mock's recipe uses it). These are the operator's
  explicit choice, so any address is accepted for them (a mock on 127.0.0.1, a staging copy on
  the office network).

Origins are compared (scheme, host, port), not paths. **DNS rebinding**: the only name resolved
here is the selector map's own site, which no caller chooses; every other name a caller may use
was listed by the operator. A caller therefore cannot bring a name of their own whose answer
changes between this check and the browser's own lookup. The check is done when a run or a link
is made; the browser resolves again when it loads the page, and no pinning is attempted.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable, Sequence
from urllib.parse import urlsplit

from bot import defaults

__all__ = ["METADATA_ADDRESSES", "Targets", "origin_of", "unsafe_address"]

Address = ipaddress.IPv4Address | ipaddress.IPv6Address
Resolver = Callable[[str], Sequence[str]]

#: Cloud metadata services (AWS, GCP, Azure, OpenStack; ECS tasks; Alibaba Cloud; AWS IPv6).
METADATA_ADDRESSES = frozenset(
    ipaddress.ip_address(a)
    for a in ("169.254.169.254", "169.254.170.2", "100.100.100.200", "fd00:ec2::254")
)


def origin_of(url: str) -> tuple[str, str, int]:
    """(scheme, host in lower case, port) of an http(s) URL; ValueError if it has none."""
    parts = urlsplit(url.strip())
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower().rstrip(".")
    if scheme not in ("http", "https") or not host:
        raise ValueError("must be an http:// or https:// URL with a host")
    port = parts.port or (443 if scheme == "https" else 80)
    return scheme, host, port


def unsafe_address(address: Address) -> bool:
    """A private, loopback, link-local, reserved, multicast, unspecified or metadata address
    (an IPv4 address inside IPv6 judged as itself)."""
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return (
        address in METADATA_ADDRESSES
        or address.is_private
        or address.is_loopback
        or address.is_link_local
        or address.is_reserved
        or address.is_multicast
        or address.is_unspecified
        or (isinstance(address, ipaddress.IPv4Address) and address in _SHARED)
    )


_SHARED = ipaddress.ip_network("100.64.0.0/10")  # carrier-grade NAT (holds Alibaba's metadata)


def _resolve(host: str) -> Sequence[str]:
    try:
        found = socket.getaddrinfo(host, None, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return ()  # no address: nothing to reach (the run will say the site cannot be loaded)
    return [str(info[4][0]) for info in found]


class Targets:
    """The origins runs may go to (see the module's docstring)."""

    def __init__(
        self,
        default: str = defaults.BASE_URL,
        allowed: Iterable[str] = (),
        *,
        site: str = defaults.BASE_URL,
        resolve: Resolver = _resolve,
    ) -> None:
        self.site = origin_of(site)
        explicit = list(allowed)
        if origin_of(default) != self.site:
            explicit.append(default)
        self.explicit = {origin_of(u) for u in explicit}
        self._resolve = resolve

    def refusal(self, url: str) -> str | None:
        """None when runs may go to ``url``, else why not (no address in it)."""
        try:
            found = origin_of(url)
        except ValueError as exc:
            return str(exc)
        if found in self.explicit:
            return None
        if found != self.site:
            return (
                "is not a site this service may open: the selector map's site, or a URL the "
                "operator allowed when starting it (icpbot serve --allow-base-url URL)"
            )
        host = found[1]
        try:
            addresses: Sequence[str] = [str(ipaddress.ip_address(host.strip("[]")))]
        except ValueError:
            addresses = self._resolve(host)
        for text in addresses:
            try:
                address = ipaddress.ip_address(text.split("%")[0])
            except ValueError:
                continue
            if unsafe_address(address):
                return (
                    "names a private, loopback, link-local or metadata address; the operator "
                    "may allow it when starting the service (icpbot serve --allow-base-url URL)"
                )
        return None
