"""No open relay: a token holder cannot send the service's browser to an address of their
choice. Through a real ``icpbot serve``: runs and links go only to the selector map's site or to
origins the operator allowed at start; loopback, private, link-local and metadata addresses are
refused unless allowed. And the rule itself (:class:`bot.serve.targets.Targets`) with a resolver
that answers what a hostile DNS could."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Sequence

import pytest

from bot.mocksite import MockSite
from bot.serve.targets import Targets
from tests.serve.conftest import Serve

MOBILE, ID6 = "13912345678", "30721X"
SITE = "https://beian.miit.gov.cn/"
REFUSED = [
    "http://169.254.169.254/latest/meta-data/",  # a cloud's metadata service
    "http://100.100.100.200/latest/meta-data/",  # Alibaba Cloud's
    "http://10.0.0.5/",
    "http://192.168.1.1/admin",
    "http://[::1]:8080/",
    "http://127.0.0.1:1/",  # loopback, but not the mock the operator allowed
    "http://localhost:22/",
    "https://example.com/",
    "https://beian.miit.gov.cn.evil.example/",
    "http://beian.miit.gov.cn/",  # the site's name, another scheme: another origin
]


def test_runs_and_links_go_only_where_the_operator_allowed(serve: Serve, site: MockSite) -> None:
    api = serve.client()
    link = {"mobile": MOBILE, "id_last6": ID6, "expires_in_s": 3600}
    run = {"action": "resend", "mobile": MOBILE, "id_last6": ID6}
    for url in REFUSED:
        for path, body in (("/api/links", link), ("/api/runs", run)):
            answer = api.post(path, json=body | {"base_url": url})
            assert answer.status_code == 422, (url, answer.text)
            assert answer.json()["detail"][0]["loc"] == ["body", "base_url"]
            assert "--allow-base-url" in answer.json()["detail"][0]["msg"]
    assert api.get("/api/runs").json() == []
    assert api.get("/api/links").json() == []
    # The mock, allowed when the service started (--allow-base-url), any path on it.
    assert api.post("/api/links", json=link | {"base_url": site.url}).status_code == 201
    assert api.post("/api/links", json=link | {"base_url": site.url + "x/"}).status_code == 201
    # No base_url: the selector map's site.
    assert api.post("/api/links", json=link).status_code == 201


def test_a_base_url_flag_that_is_not_a_url_is_refused_at_start() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bot", "serve", "--allow-base-url", "ftp://files.example/"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2
    assert "--allow-base-url" in done.stderr


def _answering(*addresses: str) -> Callable[[str], Sequence[str]]:
    def resolve(host: str) -> Sequence[str]:
        assert host == "beian.miit.gov.cn"
        return addresses

    return resolve


@pytest.mark.parametrize(
    "addresses",
    [
        ("10.1.2.3",),
        ("169.254.169.254",),
        ("100.100.100.200",),
        ("127.0.0.1",),
        ("::ffff:127.0.0.1",),
        ("fd00:ec2::254",),
        ("fe80::1%eth0",),
        ("202.106.0.20", "192.168.0.9"),  # one private answer among public ones is enough
        ("0.0.0.0",),
    ],
)
def test_the_site_is_refused_when_its_name_resolves_inside(addresses: tuple[str, ...]) -> None:
    targets = Targets(SITE, resolve=_answering(*addresses))
    assert targets.refusal(SITE) is not None
    assert targets.refusal(SITE + "#/Integrated/index") is not None


def test_the_site_resolving_outside_and_the_operators_own_choices_are_accepted() -> None:
    public = Targets(SITE, resolve=_answering("202.106.0.20", "2400:89c0::1"))
    assert public.refusal(SITE) is None
    unknown = Targets(SITE, resolve=_answering())
    assert unknown.refusal(SITE) is None  # no address: nothing to reach (the run says so)
    mine = Targets("http://127.0.0.1:8765/", ["http://10.0.0.5:8080/"])
    assert mine.refusal("http://127.0.0.1:8765/") is None  # --base-url
    assert mine.refusal("http://10.0.0.5:8080/path") is None  # --allow-base-url
    assert mine.refusal("http://10.0.0.5:8081/") is not None  # another port: another origin
    assert mine.refusal("http://127.0.0.1:8766/") is not None
