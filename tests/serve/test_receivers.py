"""Where the service may send on an operator's say-so (bot/serve/targets.py): public addresses,
loopback when the caller accepts it, private and metadata addresses only when allowed, by URL
prefix or by network; a name is judged by every address it resolves to."""

from __future__ import annotations

import ipaddress

import pytest

from bot.serve.receivers import is_allowed_target, resolve, target_problem


def _dns(table: dict[str, list[str]]):  # type: ignore[no-untyped-def]
    def addresses(host: str, port: int) -> list[ipaddress.IPv4Address | ipaddress.IPv6Address]:
        if host not in table:
            raise OSError("no such host")
        return [ipaddress.ip_address(a) for a in table[host]]

    return addresses


DNS = _dns(
    {
        "hooks.example.com": ["93.184.216.34"],
        "inside.corp": ["10.1.2.3"],
        "split.example.com": ["93.184.216.34", "192.168.1.5"],
        "local.test": ["127.0.0.1"],
    }
)


@pytest.mark.parametrize(
    ("url", "loopback_ok", "allowed", "ok"),
    [
        ("https://hooks.example.com/x", False, (), True),
        ("http://127.0.0.1:9000/hook", True, (), True),
        ("http://127.0.0.1:9000/hook", False, (), False),
        ("http://[::1]:9000/hook", True, (), True),
        ("http://local.test/hook", True, (), True),
        ("http://10.0.0.5/hook", True, (), False),
        ("http://169.254.169.254/latest/meta-data", True, (), False),  # cloud metadata
        ("http://100.64.0.1/", True, (), False),  # shared address space
        ("http://0.0.0.0:80/", True, (), False),
        ("http://[::ffff:10.0.0.5]/", True, (), False),  # IPv4-mapped
        ("http://[fd00::1]/", True, (), False),
        ("http://inside.corp/hook", True, (), False),
        ("http://split.example.com/hook", True, (), False),  # one private address is enough
        ("http://inside.corp/hook", True, ("10.0.0.0/8",), True),
        ("http://inside.corp:8080/hooks/a", True, ("http://inside.corp:8080/hooks",), True),
        ("http://inside.corp:8080/hooksx", True, ("http://inside.corp:8080/hooks",), False),
        ("http://inside.corp:8081/hooks/a", True, ("http://inside.corp:8080/hooks",), False),
        ("https://inside.corp/hooks/a", True, ("http://inside.corp/hooks",), False),
        ("http://inside.corp/anything", True, ("http://inside.corp",), True),
        ("ftp://hooks.example.com/", True, (), False),
        ("http://user:pw@hooks.example.com/", True, (), False),
        ("http://nowhere.invalid/", True, (), False),
        ("http:///nohost", True, (), False),
        ("http://hooks.example.com:99999/", True, (), False),
    ],
)
def test_who_may_be_sent_to(
    url: str, loopback_ok: bool, allowed: tuple[str, ...], ok: bool
) -> None:
    problem = target_problem(url, allowed, loopback_ok=loopback_ok, addresses=DNS)
    assert (problem is None) is ok, problem
    if problem is not None:
        assert "pw" not in problem  # never the URL's secrets


def test_a_refusal_names_the_address_and_the_way_out() -> None:
    problem = target_problem("http://inside.corp/x", (), addresses=DNS)
    assert problem is not None
    assert "10.1.2.3" in problem
    assert "allow it explicitly" in problem


def test_the_real_resolver_and_the_boolean_door() -> None:
    assert [str(a) for a in resolve("127.0.0.1", 80)] == ["127.0.0.1"]
    assert "127.0.0.1" in [str(a) for a in resolve("localhost", 80)]
    assert is_allowed_target("http://127.0.0.1:1/", (), loopback_ok=True)
    assert not is_allowed_target("http://127.0.0.1:1/")
    assert not is_allowed_target("http://10.0.0.1/")
    assert is_allowed_target("http://10.0.0.1/", ["10.0.0.0/24"])


def test_only_what_is_allowed_when_public_addresses_are_not_enough() -> None:
    """A run's base URL: the selector map's site, or what the operator allowed."""
    site = ["https://hooks.example.com/"]
    assert (
        target_problem("https://hooks.example.com/x", site, public_ok=False, addresses=DNS) is None
    )
    other = target_problem("https://split.example.com/", site, public_ok=False, addresses=DNS)
    assert other is not None
    local = target_problem("http://127.0.0.1:8080/", site, public_ok=False, addresses=DNS)
    assert local is not None
    assert "allow" in local
    assert target_problem("http://127.0.0.1:8080/", ["127.0.0.0/8"], public_ok=False,
                          addresses=DNS) is None  # fmt: skip
