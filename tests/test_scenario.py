"""Scenario files: every error names file, line and key, never the personal value."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from bot import defaults
from bot.config.scenario import (
    Scenario,
    extract_code,
    load_scenario,
    load_scenarios,
    normalize_id_last6,
    normalize_mobile,
    scenario_json_schema,
    validate_paths,
)
from bot.errors import ConfigError, ScenarioError
from bot.privacy import REDACTOR
from bot.types import Action, CaptchaMode

REPO = Path(__file__).resolve().parent.parent
MOBILE = "13912345678"
CODE = "864209"
ID = "30721X"
SECRETS = (MOBILE, CODE, ID, "30721x", "1391234", "12345678")
SMS = (
    "【工信部ICP备案】您的短信核验验证码为864209，请于24小时内登录"
    "https://beian.miit.gov.cn/#/Integrated/index 进行短信核验。"
)


@pytest.fixture(autouse=True)
def _clean_redactor() -> Iterator[None]:
    REDACTOR.clear()
    yield
    REDACTOR.clear()


def write(tmp_path: Path, text: str, name: str = "acme.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def verify_yaml(mobile: str = MOBILE, code: str = CODE, id_last6: str = ID, extra: str = "") -> str:
    return f"""
        action: verify
        inputs:
          mobile: {mobile}
          code: {code}
          id_last6: {id_last6}
        {extra}
        """


def problems(path: Path, env: dict[str, str] | None = None) -> list[tuple[int | None, str, str]]:
    """(line, key, message) of each problem; asserts that no personal value leaks."""
    with pytest.raises(ScenarioError) as info:
        load_scenario(path, env=env or {})
    text = str(info.value)
    for secret in SECRETS:
        assert secret not in text, f"{secret!r} leaked into: {text}"
    for p in info.value.problems:
        assert p.file == str(path)
    return [(p.line, p.key, p.message) for p in info.value.problems]


# -- valid files -----------------------------------------------------------------------------------


def test_minimal_verify_gets_defaults(tmp_path: Path) -> None:
    sc = load_scenario(write(tmp_path, verify_yaml()), env={})
    assert sc.name == "acme"
    assert sc.action is Action.verify
    assert sc.site == "miit"
    assert sc.base_url == defaults.BASE_URL
    assert sc.captcha is CaptchaMode.manual
    assert (sc.inputs.mobile, sc.inputs.code, sc.inputs.id_last6) == (MOBILE, CODE, ID)
    assert sc.sms_received_at is None
    assert sc.source == tmp_path / "acme.yaml"


def test_full_resend_with_env_vars(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        name: team-${TEAM}-$$1
        action: resend
        site: miit
        base_url: http://127.0.0.1:8765/
        inputs:
          mobile: ${M}
          id_last6: "${ID_HEAD}1x"
        captcha: none
        """,
    )
    sc = load_scenario(path, env={"TEAM": "blue", "M": "+86 139 1234 5678", "ID_HEAD": "3072"})
    assert sc.name == "team-blue-$1"
    assert sc.action is Action.resend
    assert sc.captcha is CaptchaMode.none
    assert sc.base_url == "http://127.0.0.1:8765/"
    assert sc.inputs.code is None
    assert sc.inputs.mobile == MOBILE
    assert sc.inputs.id_last6 == ID


def test_scenario_is_frozen_and_with_base_url_copies(tmp_path: Path) -> None:
    sc = load_scenario(write(tmp_path, verify_yaml()), env={})
    with pytest.raises(ValueError, match="frozen"):
        sc.name = "other"  # type: ignore[misc]
    moved = sc.with_base_url("http://localhost:9000/")
    assert moved.base_url == "http://localhost:9000/"
    assert sc.base_url == defaults.BASE_URL
    with pytest.raises(ConfigError, match="http"):
        sc.with_base_url("ftp://example.com/")


def test_unquoted_numbers_are_read_as_typed(tmp_path: Path) -> None:
    # YAML 1.1 reads 012345 as octal 5349 and +8613912345678 as an int without its "+".
    sc = load_scenario(
        write(tmp_path, verify_yaml(mobile="+8613912345678", code="012345", id_last6="307210")),
        env={},
    )
    assert sc.inputs.code == "012345"
    assert sc.inputs.mobile == MOBILE
    assert sc.inputs.id_last6 == "307210"


@pytest.mark.parametrize(
    "typed",
    [
        "13912345678",
        "+8613912345678",
        "+86 139 1234 5678",
        "0086-139-1234-5678",
        "86 13912345678",
        "(139) 1234.5678",
        "139-1234-5678",
        "＋８６ １３９１２３４５６７８",
    ],
)
def test_mobile_normalisation(typed: str) -> None:
    assert normalize_mobile(typed) == MOBILE


@pytest.mark.parametrize(
    "typed", ["12912345678", "1391234567", "139123456789", "+8612345678", "86139123456", "abc"]
)
def test_mobile_rejected_without_echo(typed: str) -> None:
    with pytest.raises(ValueError, match="not a valid mainland mobile") as info:
        normalize_mobile(typed)
    assert typed not in str(info.value)


@pytest.mark.parametrize(
    ("typed", "want"), [("30721x", "30721X"), (" 30721X ", "30721X"), ("123456", "123456")]
)
def test_id_normalisation(typed: str, want: str) -> None:
    assert normalize_id_last6(typed) == want


def test_whole_id_number_is_named_as_such() -> None:
    with pytest.raises(ValueError, match="whole ID"):
        normalize_id_last6("11010519491231002X")


def test_sms_received_at(tmp_path: Path) -> None:
    aware = load_scenario(
        write(tmp_path, verify_yaml(extra="sms_received_at: 2026-11-28T09:30:00+08:00")), env={}
    )
    assert aware.sms_received_at == datetime(2026, 11, 28, 1, 30, tzinfo=UTC)
    naive = load_scenario(
        write(tmp_path, verify_yaml(extra="sms_received_at: 2026-11-28 09:30:00"), "b.yaml"), env={}
    )
    assert naive.sms_received_at is not None
    assert naive.sms_received_at.tzinfo is not None
    assert naive.sms_received_at.replace(tzinfo=None) == datetime(2026, 11, 28, 9, 30)
    from_env = load_scenario(
        write(tmp_path, verify_yaml(extra="sms_received_at: ${WHEN}"), "c.yaml"),
        env={"WHEN": "2026-11-28T09:30:00Z"},
    )
    assert from_env.sms_received_at is not None
    assert from_env.sms_received_at.utcoffset() == timedelta(0)


def test_sms_received_at_needs_a_time(tmp_path: Path) -> None:
    found = problems(write(tmp_path, verify_yaml(extra="sms_received_at: 2026-11-28")))
    assert found == [(6, "sms_received_at", "needs a time of day, e.g. 2026-11-28T09:30:00+08:00")]


# -- the code and pasted SMS -----------------------------------------------------------------------


def test_extract_code_from_sms() -> None:
    assert extract_code(SMS) == "864209"
    assert extract_code("864209") == "864209"
    assert extract_code(" 864 209 ") == "864209"
    assert extract_code("８６４２０９") == "864209"


def test_digits_in_links_are_not_the_code() -> None:
    sms = "验证码为864209，请登录https://beian.miit.gov.cn/123456/#/x?id=654321 核验"
    assert extract_code(sms) == "864209"
    bare = "您的验证码864209，请登录 beian.miit.gov.cn/#/Integrated/index?t=777777 进行核验"
    assert extract_code(bare) == "864209"
    # "864209.Please" is not a host name: the code next to a full stop survives.
    assert extract_code("Your code 864209.Please verify within 24 hours.") == "864209"


def test_keyword_decides_between_several_numbers() -> None:
    assert extract_code("备案号123456的短信核验验证码为864209。") == "864209"
    assert extract_code("ref 123456, code: 864209") == "864209"


def test_sms_with_two_unmarked_numbers_is_ambiguous() -> None:
    with pytest.raises(ValueError, match="more than one 6-digit number") as info:
        extract_code("号码123456和864209")
    assert "864209" not in str(info.value)


@pytest.mark.parametrize("text", ["86420", "8642091", "请登录https://beian.miit.gov.cn/864209"])
def test_no_code(text: str) -> None:
    with pytest.raises(ValueError, match="6-digit"):
        extract_code(text)


def test_pasted_sms_in_scenario(tmp_path: Path) -> None:
    sc = load_scenario(write(tmp_path, verify_yaml(code="${SMS}")), env={"SMS": SMS})
    assert sc.inputs.code == "864209"


# -- errors: file, line, key; never the value ------------------------------------------------------


def test_unknown_top_level_key(tmp_path: Path) -> None:
    found = problems(write(tmp_path, verify_yaml(extra="colour: red")))
    assert len(found) == 1
    line, key, message = found[0]
    assert (line, key) == (6, "colour")
    assert "unknown key" in message


def test_unknown_key_in_inputs(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        f"""
        action: verify
        inputs:
          mobile: {MOBILE}
          phone: {MOBILE}
          code: {CODE}
          id_last6: {ID}
        """,
    )
    assert problems(path) == [
        (4, "inputs.phone", "unknown key; allowed here: mobile, code, id_last6")
    ]


def test_key_that_is_a_phone_number_is_not_echoed(tmp_path: Path) -> None:
    path = write(tmp_path, verify_yaml(extra=f"{MOBILE}: x"))
    assert problems(path)[0][:2] == (6, "<key with digits>")


def test_yaml_syntax_error_has_line_and_column_but_no_snippet(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        f"""
        action: verify
        inputs:
          mobile: [{MOBILE}
          code: {CODE}
          id_last6: {ID}
        """,
    )
    [(line, key, message)] = problems(path)
    assert line == 4
    assert key == ""
    assert "YAML syntax error at column" in message


def test_duplicate_key_names_both_lines(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        f"""
        action: verify
        inputs:
          mobile: {MOBILE}
          code: {CODE}
          mobile: 13812345678
          id_last6: {ID}
        """,
    )
    [(line, key, message)] = problems(path)
    assert (line, key) == (5, "inputs.mobile")
    assert "line 3" in message
    assert "line 5" in message
    assert "13812345678" not in message


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        (
            "mobile",
            "12912345678",
            "is not a valid mainland mobile number (11 digits starting with 1)",
        ),
        (
            "mobile",
            "1391234567",
            "is not a valid mainland mobile number (11 digits starting with 1)",
        ),
        (
            "id_last6",
            "3072X1",
            "is not the last 6 characters of an ID (5 digits, then a digit or X)",
        ),
        ("code", "86420", "is not a 6-digit SMS code"),
        (
            "code",
            "'号码123456和864209'",
            "the SMS text holds more than one 6-digit number; give the code alone",
        ),
    ],
    ids=["mobile-prefix", "mobile-short", "id", "code-short", "code-ambiguous"],
)
def test_bad_value(tmp_path: Path, field: str, value: str, message: str) -> None:
    values = {"mobile": MOBILE, "code": CODE, "id_last6": ID, field: value}
    path = write(tmp_path, verify_yaml(**values))
    line = {"mobile": 3, "code": 4, "id_last6": 5}[field]
    assert problems(path) == [(line, f"inputs.{field}", message)]
    for secret in (value.strip("'"), "123456"):
        assert secret not in str(problems(path))


def test_missing_variable_names_it_and_the_key(tmp_path: Path) -> None:
    path = write(tmp_path, verify_yaml(mobile="${ICP_MOBILE}"))
    assert problems(path, env={"OTHER": "1"}) == [
        (3, "inputs.mobile", "environment variable ICP_MOBILE is not set")
    ]
    assert problems(path, env={"ICP_MOBILE": " "}) == [
        (3, "inputs.mobile", "environment variable ICP_MOBILE is empty")
    ]


def test_malformed_variable(tmp_path: Path) -> None:
    path = write(tmp_path, verify_yaml(mobile="'${ICP MOBILE}'"))
    assert problems(path)[0][:2] == (3, "inputs.mobile")


def test_code_on_a_resend(tmp_path: Path) -> None:
    path = write(tmp_path, verify_yaml().replace("action: verify", "action: resend"))
    assert problems(path) == [(4, "inputs.code", "a resend takes no code; remove inputs.code")]


def test_missing_code_on_a_verify(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        f"""
        action: verify
        inputs:
          mobile: {MOBILE}
          id_last6: {ID}
        """,
    )
    [(line, key, message)] = problems(path)
    assert (line, key) == (2, "inputs.code")
    assert "missing required key 'code'" in message


def test_bad_action(tmp_path: Path) -> None:
    path = write(tmp_path, verify_yaml().replace("action: verify", "action: submit"))
    assert problems(path) == [(1, "action", "must be one of: verify | resend")]


def test_missing_action(tmp_path: Path) -> None:
    path = write(tmp_path, verify_yaml().replace("action: verify", "name: x"))
    assert problems(path) == [(1, "action", "missing required key 'action' (verify | resend)")]


@pytest.mark.parametrize("url", ["ftp://beian.miit.gov.cn/", "beian.miit.gov.cn", "https://"])
def test_bad_base_url(tmp_path: Path, url: str) -> None:
    [(line, key, message)] = problems(write(tmp_path, verify_yaml(extra=f"base_url: {url}")))
    assert (line, key) == (6, "base_url")
    assert "http" in message or "host" in message


def test_bad_captcha_and_site_and_name(tmp_path: Path) -> None:
    path = write(tmp_path, verify_yaml(extra="captcha: auto"))
    path.write_text(path.read_text() + "site: ../x\nname: ''\n")
    assert [(line, key) for line, key, _ in problems(path)] == [
        (6, "captcha"),
        (7, "site"),
        (8, "name"),
    ]


def test_inputs_missing_or_wrong_shape(tmp_path: Path) -> None:
    assert problems(write(tmp_path, "action: verify\n"))[0][:2] == (1, "inputs")
    assert problems(write(tmp_path, "action: verify\ninputs: [1]\n"))[0][:2] == (2, "inputs")
    assert problems(write(tmp_path, "- 1\n"))[0][:2] == (1, "")
    assert problems(write(tmp_path, ""))[0][2].startswith("the file is empty")


def test_every_problem_of_a_file_is_reported(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        """
        action: verify
        colour: red
        inputs:
          mobile: 1234
          code: 12
          id_last6: abc
        """,
    )
    assert [(line, key) for line, key, _ in problems(path)] == [
        (2, "colour"),
        (4, "inputs.mobile"),
        (5, "inputs.code"),
        (6, "inputs.id_last6"),
    ]


def test_missing_file(tmp_path: Path) -> None:
    assert problems(tmp_path / "nope.yaml") == [(None, "", "file not found")]


def test_load_scenarios_collects_all_files(tmp_path: Path) -> None:
    good = write(tmp_path, verify_yaml(), "good.yaml")
    bad1 = write(tmp_path, verify_yaml(mobile="1"), "bad1.yaml")
    bad2 = write(tmp_path, verify_yaml(extra="x: 1"), "bad2.yaml")
    with pytest.raises(ScenarioError) as info:
        load_scenarios([good, bad1, bad2], env={})
    assert [p.file for p in info.value.problems] == [str(bad1), str(bad2)]
    assert [s.name for s in load_scenarios([good], env={})] == ["good"]


def test_load_scenarios_refuses_the_same_file_twice(tmp_path: Path) -> None:
    good = write(tmp_path, verify_yaml())
    with pytest.raises(ScenarioError, match="named twice"):
        load_scenarios([good, good], env={})


# -- privacy ---------------------------------------------------------------------------------------


def test_values_are_registered_for_masking_even_when_invalid(tmp_path: Path) -> None:
    path = write(tmp_path, verify_yaml(mobile="'+86 139 1234 567'", code="'${SMS}'"))
    with pytest.raises(ScenarioError):
        load_scenario(path, env={"SMS": SMS})
    assert "+86 139 1234 567" not in REDACTOR("log: +86 139 1234 567")
    assert CODE not in REDACTOR(f"typed {CODE}")
    assert ID not in REDACTOR(f"id {ID}")


def test_valid_values_are_registered_in_normal_form(tmp_path: Path) -> None:
    load_scenario(
        write(tmp_path, verify_yaml(mobile="'+86 139-1234-5678'", id_last6="30721x")), env={}
    )
    assert REDACTOR(f"mobileNum={MOBILE}&certNum={ID}") == "mobileNum=139****5678&certNum=****1X"


# -- schema and validate ---------------------------------------------------------------------------


def test_json_schema() -> None:
    schema = json.loads(json.dumps(scenario_json_schema(), ensure_ascii=False))
    props = schema["properties"]
    assert set(props) == {
        "name",
        "action",
        "site",
        "base_url",
        "inputs",
        "captcha",
        "sms_received_at",
    }
    assert set(props["inputs"]["properties"]) == {"mobile", "code", "id_last6"}
    assert schema["additionalProperties"] is False
    assert props["inputs"]["additionalProperties"] is False
    assert props["action"]["enum"] == ["verify", "resend"]
    for field in ("mobile", "code", "id_last6"):
        assert "pattern" in props["inputs"]["properties"][field]
        assert props["inputs"]["properties"][field]["description"]
    assert all(p.get("description") for p in props.values())
    assert set(Scenario.model_fields) - {"source"} == set(props)


def test_validate_paths(tmp_path: Path) -> None:
    good = write(tmp_path, verify_yaml(), "good.yaml")
    no_map = write(tmp_path, verify_yaml(extra="site: atlantis"), "nomap.yaml")
    smap = REPO / "selectors" / "miit.yaml"
    found = validate_paths([good, no_map, smap], env={})
    assert [(p.file, p.line, p.key) for p in found] == [(str(no_map), 6, "site")]
    assert "atlantis" in found[0].message
    assert "tried" in found[0].message


def test_validate_paths_reports_a_broken_selector_map(tmp_path: Path) -> None:
    broken = write(tmp_path, "site: x\nelements: {}\n", "map.yaml")
    found = validate_paths([broken], env={})
    assert found
    assert all(p.file == str(broken) for p in found)


def test_shipped_examples_are_valid() -> None:
    env = {
        k: v
        for k, v in {
            "ICP_MOBILE": MOBILE,
            "ICP_SMS_CODE": CODE,
            "ICP_ID_LAST6": ID,
            "ICP_SMS": SMS,
            "ICP_SITE_HEAD_MOBILE": "13800138000",
            "ICP_SITE_HEAD_SMS_CODE": "123456",
            "ICP_SITE_HEAD_ID_LAST6": "123456",
        }.items()
    }
    examples = sorted((REPO / "scenarios" / "examples").glob("*.yaml"))
    assert len(examples) >= 3
    assert validate_paths(examples, env=env) == []
    actions = {load_scenario(p, env=env).action for p in examples}
    assert actions == {Action.verify, Action.resend}
