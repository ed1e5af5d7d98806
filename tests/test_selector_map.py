"""Selector maps: the shipped map matches the real page's texts; broken maps fail with lines."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.config.selector_map import (
    OPTIONAL_ELEMENTS,
    REQUIRED_ELEMENTS,
    SELECTORS_DIR_ENV,
    Candidate,
    SelectorMap,
    Strategy,
    find_selector_map,
    load_selector_map,
    selector_map_json_schema,
)
from bot.errors import SelectorMapError
from bot.mocksite.state import STATUS_TEXT, banner_text
from bot.types import Action, Category

REPO = Path(__file__).resolve().parent.parent
SHIPPED = REPO / "selectors" / "miit.yaml"
# The real site's texts, copied from the team's reference (see the file's header): part of the
# repository, so these checks run in every clone and in CI.
REFERENCE: dict[str, Any] = yaml.safe_load(
    (Path(__file__).parent / "data" / "site_reference.yaml").read_text(encoding="utf-8")
)

# validStatus -> category: icpbot's reading of the reference's "meaning for the operator".
CATEGORIES: dict[int, Category] = {
    3: Category.success,
    31: Category.success,
    20: Category.success,
    2: Category.wrong_info,
    4: Category.no_record,
    21: Category.failed,
    0: Category.failed,
    100: Category.no_record,
    101: Category.success,
    102: Category.failed,
}
_TABS = {"verify": {Action.verify}, "resend": {Action.resend}, "both": set(Action)}
# validStatus -> (actions, category, banner)
STATUSES: dict[int, tuple[set[Action], Category, str]] = {
    row["status"]: (_TABS[row["tab"]], CATEGORIES[row["status"]], row["banner"])
    for row in REFERENCE["statuses"]
}


@pytest.fixture(scope="module")
def smap() -> SelectorMap:
    return load_selector_map(SHIPPED)


# -- the shipped map -------------------------------------------------------------------------------


def test_shipped_map_loads(smap: SelectorMap) -> None:
    assert smap.site == "miit"
    assert smap.route == "#/Integrated/index"
    assert smap.login_route == "#/login"
    assert smap.default_status == 0
    assert smap.source == SHIPPED
    assert set(REQUIRED_ELEMENTS) | set(OPTIONAL_ELEMENTS) <= set(smap.elements)


def test_shipped_statuses_match_the_reference(smap: SelectorMap) -> None:
    got = {e.status: (set(e.actions), e.category, e.banner) for e in smap.statuses}
    assert got == STATUSES
    names = [e.name for e in smap.statuses]
    assert len(names) == len(set(names))
    for entry in smap.statuses:
        assert entry.message.isascii()
        assert entry.next_step.isascii()


def test_reference_lists_every_status_once() -> None:
    statuses = [row["status"] for row in REFERENCE["statuses"]]
    assert len(statuses) == len(set(statuses)) == 10
    assert set(statuses) == set(CATEGORIES)
    assert REFERENCE["default_status"] in statuses


def test_shipped_banners_are_the_reference_texts_verbatim(smap: SelectorMap) -> None:
    assert smap.default_status == REFERENCE["default_status"]
    for row in REFERENCE["statuses"]:
        action = Action.resend if row["tab"] == "resend" else Action.verify
        entry = smap.status_entry(action, row["status"])
        assert entry is not None, row
        assert (entry.status, entry.banner) == (row["status"], row["banner"])


def test_mock_banners_are_the_reference_texts_verbatim() -> None:
    reference = {row["status"]: row["banner"] for row in REFERENCE["statuses"]}
    assert dict(STATUS_TEXT) == reference
    assert banner_text(7) == STATUS_TEXT[REFERENCE["default_status"]]


def test_shipped_map_routes_and_endpoints_are_the_references(smap: SelectorMap) -> None:
    assert (smap.route, smap.login_route) == (REFERENCE["route"], REFERENCE["login_route"])
    suffixes = REFERENCE["api_suffixes"]
    assert (smap.endpoints.auth, smap.endpoints.verify, smap.endpoints.resend) == (
        suffixes["auth"],
        suffixes["verify"],
        suffixes["resend"],
    )


def _first(smap: SelectorMap, name: str) -> Candidate:
    return smap.element(name).candidates[0]


def test_shipped_map_tries_the_reference_texts_first(smap: SelectorMap) -> None:
    """Each element's first candidate is the real page's exact text; fallbacks come after."""
    placeholders = REFERENCE["placeholders"]
    for tab, fields in placeholders.items():
        for field, text in fields.items():
            first = _first(smap, f"{tab}_{field}")
            assert (first.strategy, first.value) == (Strategy.placeholder, text), (tab, field)
    for tab, text in REFERENCE["tabs"].items():
        assert _first(smap, f"{tab}_tab").has_text == text
        submit = _first(smap, f"{tab}_submit")
        assert (submit.strategy, submit.value, submit.name) == (
            Strategy.role,
            "button",
            REFERENCE["submit"],
        )
    banner_regexes = [c.regex for c in smap.element("result_banner").candidates if c.regex]
    assert any(re.match(rx, REFERENCE["banner_prefix"]) for rx in banner_regexes)
    captcha_texts = [c.value for c in smap.element("captcha_box").candidates]
    assert REFERENCE["captcha_header"] in captcha_texts


def test_shipped_front_door_texts_are_the_references(smap: SelectorMap) -> None:
    door = REFERENCE["front_door"]
    assert list(smap.front_door.blocked) == door["blocked"]
    assert list(smap.front_door.rate_limited) == door["rate_limited"]


def test_shipped_map_paces_submissions(smap: SelectorMap) -> None:
    assert (smap.pacing.max_parallel, smap.pacing.min_interval_s) == (1, 10)
    assert "访问频次过高" in smap.front_door.rate_limited


def test_pacing_defaults_to_no_limit(tmp_path: Path) -> None:
    text = SHIPPED.read_text(encoding="utf-8")
    start = text.index("pacing:")
    path = tmp_path / "m.yaml"
    path.write_text(text[:start] + text[text.index("elements:", start) :], encoding="utf-8")
    pacing = load_selector_map(path).pacing
    assert (pacing.max_parallel, pacing.min_interval_s) == (None, 0)


def test_a_map_is_read_once_and_again_when_edited(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    text = SHIPPED.read_text(encoding="utf-8")
    path.write_text(text, encoding="utf-8")
    first = load_selector_map(path)
    assert load_selector_map(path) is first  # a batch of one site checks its map once
    edited = text.replace("min_interval_s: 10", "min_interval_s: 12")
    assert edited != text
    path.write_text(edited, encoding="utf-8")
    assert load_selector_map(path).pacing.min_interval_s == 12
    path.write_text(text.replace("route:", "routes:"), encoding="utf-8")
    with pytest.raises(SelectorMapError):
        load_selector_map(path)  # a broken edit is refused, never served from the cache


def test_inputs_are_found_by_placeholder_inside_their_card(smap: SelectorMap) -> None:
    firsts = {name: smap.element(name).candidates[0] for name in REQUIRED_ELEMENTS}
    assert firsts["verify_code"].value == "请输短信验证码"
    assert firsts["verify_mobile"].value == "请输入手机号"
    assert firsts["resend_mobile"].value == "请输入手机号码"
    for name in ("verify_code", "verify_mobile", "verify_id_last6", "verify_submit"):
        assert smap.element(name).within == "verify_card"
    for name in ("resend_mobile", "resend_id_last6", "resend_submit"):
        assert smap.element(name).within == "resend_card"
    assert smap.element("result_text").within == "result_banner"
    assert smap.element("error_toast_text").within == "error_toast"
    assert [e.name for e in smap.scope_chain("verify_code")] == ["verify_card", "verify_code"]


def test_endpoints_match_by_path_suffix_only(smap: SelectorMap) -> None:
    api = "https://hlwicpfwc.miit.gov.cn/icpproject_query/api"
    assert smap.endpoints.kind_of(f"{api}/smsValidate/validateByCondition") == "verify"
    assert smap.endpoints.kind_of(f"{api}/smsValidate/resendSMSByCondition?x=1") == "resend"
    assert smap.endpoints.kind_of("http://127.0.0.1:8000/icpproject_query/api/auth") == "auth"
    assert smap.endpoints.kind_of("https://icpproject_query/api/auth.example/x") is None
    assert smap.endpoints.for_action(Action.resend).endswith("resendSMSByCondition")


def test_status_entry_prefers_the_action(smap: SelectorMap) -> None:
    four = smap.status_entry(Action.resend, 4)
    assert four is not None
    assert four.category is Category.no_record
    zero_on_resend = smap.status_entry(Action.resend, 0)  # only listed for verify: still found
    assert zero_on_resend is not None
    assert zero_on_resend.name == "failed_retry"
    assert smap.status_entry(Action.verify, 7) is None


def test_entry_by_banner(smap: SelectorMap) -> None:
    hit = smap.entry_by_banner(Action.verify, " 您的短信核验失败,请输入正确的信息。\n")
    assert hit is not None
    assert hit.status == 2
    prefixed = smap.entry_by_banner(
        Action.resend,
        "尊敬的ICP用户：\n重发次数已到上限，若不能及时完成短信核验，您的备案申请将会被退回。",
    )
    assert prefixed is not None
    assert prefixed.status == 102
    assert smap.entry_by_banner(Action.verify, "something else") is None
    assert smap.entry_by_banner(Action.verify, "  ") is None
    # Punctuation is part of the text: the full-width comma variant is not status 2's banner.
    assert smap.entry_by_banner(Action.verify, "您的短信核验失败，请输入正确的信息。") is None


def test_candidate_describe() -> None:
    assert Candidate(strategy=Strategy.placeholder, value="请输短信验证码").describe() == (
        'placeholder="请输短信验证码"'
    )
    assert Candidate(strategy=Strategy.text, regex="^尊敬").describe() == "text=/^尊敬/"
    assert Candidate(strategy=Strategy.role, value="button", name="提交").describe() == (
        'role="button"[name="提交"]'
    )
    assert Candidate(strategy=Strategy.css, value="h5", has_text="短信核验").describe() == (
        'css="h5" has_text="短信核验"'
    )
    assert Candidate(strategy=Strategy.text, value="x", exact=False).describe() == (
        'text="x" exact=false'
    )


def test_json_schema_is_json() -> None:
    schema = json.loads(json.dumps(selector_map_json_schema(), ensure_ascii=False))
    assert set(schema["properties"]["elements"]["required"]) == set(REQUIRED_ELEMENTS)


# -- broken maps: every problem with its line and key ----------------------------------------------


def line_of(text: str, needle: str) -> int:
    return text[: text.index(needle)].count("\n") + 1


BREAKAGES = [
    # (old text, new text, text whose line is expected, key, message fragment)
    ("site: miit\n", "site: miit\ncolour: red\n", "colour: red", "colour", "unknown key"),
    (
        "  captcha_overlay:\n",
        "  captcha_overlay:\n    weight: 3\n",
        "weight: 3",
        "elements.captcha_overlay.weight",
        "unknown key",
    ),
    (
        "  captcha_box:\n",
        "  captcha_boks:\n",
        "elements:",
        "elements",
        "missing required element 'captcha_box'",
    ),
    (
        "    within: verify_card\n",
        "    within: verify_kard\n",
        "within: verify_kard",
        "elements.verify_code.within",
        "no element called 'verify_kard'",
    ),
    (
        "  verify_card:\n",
        "  verify_card:\n    within: verify_code\n",
        "within: verify_code",
        "elements.verify_card.within",
        "cycle",
    ),
    (
        "      - css: '#shield'\n",
        "      - css: '#shield'\n        text: x\n",
        "- css: '#shield'",
        "elements.captcha_overlay.candidates[0]",
        "exactly one of role, placeholder, text, css",
    ),
    (
        "      - css: .el-form-item__error\n",
        "      - exact: true\n",
        "- exact: true",
        "elements.validation_error.candidates[0]",
        "(found: none)",
    ),
    (
        "{regex: 手机}",
        "{regex: 手机(}",
        "{regex: 手机(}",
        "elements.verify_mobile.candidates[2].placeholder.regex",
        "not a valid regular expression",
    ),
    (
        "      - placeholder: 请输入手机号码\n",
        "      - placeholder: 请输入手机号码\n        has_text: x\n",
        "has_text: x",
        "elements.verify_mobile.candidates[1].has_text",
        "placeholder does not take 'has_text'",
    ),
    (
        "category: wrong_info",
        "category: wrong",
        "category: wrong",
        "statuses[3].category",
        "unknown category",
    ),
    (
        "  - status: 21\n",
        "  - status: 2\n",
        "  - status: 2\n    actions: [verify]\n    category: failed",
        "statuses[5].status",
        "status 2 for verify is already defined",
    ),
    (
        "auth: /auth",
        "auth: https://x.cn/icpproject_query/api/auth",
        "auth: https://",
        "endpoints.auth",
        "never a host",
    ),
    (
        "      - role: button\n",
        "      - role: buton\n",
        "role: buton",
        "elements.verify_submit.candidates[0].role",
        "not an ARIA role",
    ),
    (
        "default_status: 0",
        "default_status: 9",
        "default_status: 9",
        "default_status",
        "no entry in statuses for status 9",
    ),
    (
        "max_parallel: 1",
        "max_parallel: 0",
        "max_parallel: 0",
        "pacing.max_parallel",
        "must be at least 1",
    ),
    (
        "min_interval_s: 10",
        "min_interval_s: soon",
        "min_interval_s: soon",
        "pacing.min_interval_s",
        "must be a number",
    ),
    (
        "  rate_limited:\n",
        "  rate_limted:\n",
        "rate_limted:",
        "front_door.rate_limted",
        "unknown key; allowed here: blocked, rate_limited",
    ),
    (
        "  captcha_overlay:\n    candidates:\n      - css: '#shield'\n",
        "  captcha_overlay:\n    candidates: []\n",
        "candidates: []",
        "elements.captcha_overlay.candidates",
        "non-empty list",
    ),
]


@pytest.mark.parametrize(
    ("old", "new", "at", "key", "fragment"), BREAKAGES, ids=[b[3] for b in BREAKAGES]
)
def test_broken_map(tmp_path: Path, old: str, new: str, at: str, key: str, fragment: str) -> None:
    original = SHIPPED.read_text(encoding="utf-8")
    assert old in original
    text = original.replace(old, new, 1)
    path = tmp_path / "broken.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SelectorMapError) as info:
        load_selector_map(path)
    found = [(p.line, p.key) for p in info.value.problems if fragment in p.message]
    assert found == [(line_of(text, at), key)], str(info.value)
    assert all(p.file == str(path) for p in info.value.problems)


def test_map_that_is_not_a_mapping(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text("- 1\n", encoding="utf-8")
    with pytest.raises(SelectorMapError, match="expected a mapping"):
        load_selector_map(path)


def test_duplicate_key_in_map(tmp_path: Path) -> None:
    text = SHIPPED.read_text(encoding="utf-8").replace("route: ", "route: '#/a'\nroute: ", 1)
    path = tmp_path / "m.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SelectorMapError, match="duplicate key"):
        load_selector_map(path)


# -- finding a map ---------------------------------------------------------------------------------


def test_find_selector_map_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(SELECTORS_DIR_ENV, raising=False)
    assert find_selector_map("miit") == SHIPPED  # the repo's selectors/, last resort
    (tmp_path / "selectors").mkdir()
    (tmp_path / "selectors" / "miit.yaml").write_text("x", encoding="utf-8")
    assert find_selector_map("miit") == tmp_path / "selectors" / "miit.yaml"
    env_dir = tmp_path / "env"
    env_dir.mkdir()
    (env_dir / "miit.yaml").write_text("x", encoding="utf-8")
    monkeypatch.setenv(SELECTORS_DIR_ENV, str(env_dir))
    assert find_selector_map("miit") == env_dir / "miit.yaml"
    explicit = tmp_path / "explicit"
    explicit.mkdir()
    (explicit / "miit.yaml").write_text("x", encoding="utf-8")
    assert find_selector_map("miit", explicit) == explicit / "miit.yaml"


def test_find_selector_map_names_the_paths_tried(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(SELECTORS_DIR_ENV, str(tmp_path / "env"))
    with pytest.raises(SelectorMapError) as info:
        find_selector_map("atlantis", tmp_path / "mine")
    message = str(info.value)
    for tried in (tmp_path / "mine", tmp_path / "env", tmp_path / "selectors", REPO / "selectors"):
        assert str(tried / "atlantis.yaml") in message
    with pytest.raises(SelectorMapError):
        find_selector_map("../etc/passwd")


# -- the map against the page's DOM (and against redesigns) ----------------------------------------

PAGE = """
<div class="nav"><a href="#/Integrated/ComplaintA">{verify}</a></div>
<div class="{tit}"><div><h5 class="{sel}" data-tab="0">{verify}</h5></div>
  <div><h5 data-tab="1">{resend}</h5></div></div>
<div class="cards">
 <div class="{card}" style="display:block"><form class="el-form demo-ruleForm">
  <div class="el-form-item check"><span class="tit_tis"><i></i></span><div class="el-input">
   <input class="el-input__inner" placeholder="{p_code}"></div></div>
  <div class="el-form-item checkA"><div class="el-input">
   <input class="el-input__inner" placeholder="{p_vmobile}"></div></div>
  <div class="el-form-item checkB"><div class="el-input">
   <input class="el-input__inner" maxlength="6" placeholder="{p_id}"></div></div>
  <button type="button" class="el-button el-button--success {btn}"><span>{submit}</span></button>
 </form></div>
 <div class="{card}" style="display:none"><form class="el-form demo-ruleForm">
  <div class="el-form-item check"><div class="el-input">
   <input class="el-input__inner" placeholder="{p_rmobile}"></div></div>
  <div class="el-form-item checkA"><div class="el-input">
   <input class="el-input__inner" maxlength="6" placeholder="{p_id}"></div></div>
  <button type="button" class="el-button el-button--success {btn}"><span>{submit}</span></button>
 </form></div>
</div>
<div class="{tips}"><i class="tips_sus"></i>{dear}<span>{banner}</span>
  <div class="close_icon"></div></div>
<script>
document.querySelectorAll("h5[data-tab]").forEach(h => h.addEventListener("click", () => {{
  document.querySelectorAll(".cards > div").forEach((c, i) => {{
    c.style.display = String(i) === h.dataset.tab ? "block" : "none"; }});
}}));
</script>
"""
ORIGINAL = dict(
    verify="短信核验",
    resend="短信重发",
    tit="tit",
    sel="Selection",
    card="tab-card",
    p_code="请输短信验证码",
    p_vmobile="请输入手机号",
    p_rmobile="请输入手机号码",
    p_id="请输入证件号码后6位",
    btn="Submission",
    submit="提交",
    tips="tips",
    dear="尊敬的ICP用户：",
    banner="您的短信核验已全部完成,该请求将提交管局审核。",
)
REDESIGNED = {
    **ORIGINAL,
    "tit": "tab-title",
    "sel": "active",
    "card": "tab-pane-card",
    "btn": "submit-btn",
    "tips": "result-tips",
    "p_code": "请输入短信验证码",
}
ENGLISH = {
    **REDESIGNED,
    "verify": "Verify",
    "resend": "Resend",
    "p_code": "SMS code",
    "p_vmobile": "Mobile",
    "p_rmobile": "Mobile number",
    "p_id": "ID (last 6)",
    "submit": "Submit",
    "dear": "Dear user: ",
    "banner": "Done.",
}


def _locator(scope: Any, c: Candidate) -> Any:
    text: Any = re.compile(c.regex) if c.regex else c.value
    if c.strategy is Strategy.role:
        loc = (
            scope.get_by_role(c.value, name=c.name, exact=c.exact)
            if c.name
            else scope.get_by_role(c.value)
        )
    elif c.strategy is Strategy.placeholder:
        loc = scope.get_by_placeholder(text, exact=c.exact if c.regex is None else None)
    elif c.strategy is Strategy.text:
        loc = scope.get_by_text(text, exact=c.exact if c.regex is None else None)
    else:
        loc = scope.locator(c.value)
    return loc.filter(has_text=c.has_text) if c.has_text else loc


def _resolve(page: Any, smap: SelectorMap, name: str) -> Any:
    """First candidate with exactly one visible match, inside its `within` (as bot.page.locate
    does)."""
    spec = smap.element(name)
    scope = _resolve(page, smap, spec.within) if spec.within else page
    if scope is None:
        return None
    for candidate in spec.candidates:
        loc = _locator(scope, candidate).filter(visible=True)
        if loc.count() == 1:
            return loc
    return None


FIELDS = {
    "verify": (
        "verify_tab",
        "verify_card",
        ["verify_code", "verify_mobile", "verify_id_last6", "verify_submit"],
    ),
    "resend": ("resend_tab", "resend_card", ["resend_mobile", "resend_id_last6", "resend_submit"]),
}


@pytest.mark.browser
@pytest.mark.parametrize("variant", [ORIGINAL, REDESIGNED], ids=["original", "redesigned"])
def test_map_finds_every_element(page: Any, smap: SelectorMap, variant: dict[str, str]) -> None:
    page.set_content(PAGE.format(**variant))
    for action, (tab, card, fields) in FIELDS.items():
        _resolve(page, smap, tab).click()
        assert _resolve(page, smap, card) is not None, action
        # The other card is hidden: the card of the other form must not be found.
        other = FIELDS["resend" if action == "verify" else "verify"][1]
        assert _resolve(page, smap, other) is None, other
        placeholders = []
        for name in fields:
            loc = _resolve(page, smap, name)
            assert loc is not None, name
            placeholders.append(loc.get_attribute("placeholder"))
        expected = (
            [variant["p_code"], variant["p_vmobile"], variant["p_id"], None]
            if action == "verify"
            else [variant["p_rmobile"], variant["p_id"], None]
        )
        assert placeholders == expected
    text = _resolve(page, smap, "result_text")
    assert text is not None
    assert text.inner_text() == variant["banner"]


@pytest.mark.browser
def test_map_stops_on_a_page_it_cannot_read(page: Any, smap: SelectorMap) -> None:
    page.set_content(PAGE.format(**ENGLISH))
    assert _resolve(page, smap, "verify_tab") is None
    assert _resolve(page, smap, "verify_card") is None
    assert _resolve(page, smap, "verify_code") is None
