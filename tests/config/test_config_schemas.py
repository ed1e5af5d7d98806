"""The JSON Schemas for editors come from the input models and describe the shipped files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from bot.config.scenario import scenario_json_schema
from bot.config.selector_map import selector_map_json_schema

REPO = Path(__file__).resolve().parents[2]
MAPS = sorted((REPO / "selectors").glob("*.yaml"))
# A people list's template (scenarios/batch/template.yaml) is no scenario (see test_people.py)
SCENARIOS = sorted(p for p in (REPO / "scenarios").glob("**/*.yaml") if p.name != "template.yaml")


class _Yaml12Loader(yaml.SafeLoader):
    """Reads timestamps as text, as YAML 1.2 editors do (the schema is theirs)."""


_Yaml12Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def load(text: str) -> Any:
    return yaml.load(text, Loader=_Yaml12Loader)  # a SafeLoader subclass


def validator(schema: dict[str, Any]) -> jsonschema.Draft202012Validator:
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def test_shipped_files_are_found() -> None:
    assert MAPS
    assert len(SCENARIOS) >= 5


@pytest.mark.parametrize("path", MAPS, ids=lambda p: p.name)
def test_schema_accepts_shipped_selector_map(path: Path) -> None:
    data = load(path.read_text(encoding="utf-8"))
    assert list(validator(selector_map_json_schema()).iter_errors(data)) == []


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_schema_accepts_shipped_scenario(path: Path) -> None:
    data = load(path.read_text(encoding="utf-8"))
    assert list(validator(scenario_json_schema()).iter_errors(data)) == []


SCENARIO = """
action: verify
inputs: {mobile: "${M}", code: 864209, id_last6: "${ID}"}
sms_received_at: 2026-11-28T09:30:00+08:00
"""


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("action: verify", "action: submit"),
        ("action: verify", "action: verify\ncolour: red"),
        ("action: verify", "action: resend"),  # a resend takes no code
        ("code: 864209, ", ""),  # a verify needs one
        ('id_last6: "${ID}"', 'id_last6: "${ID}", phone: 1'),
        ("inputs: {", "site: ../x\ninputs: {"),
    ],
)
def test_scenario_schema_rejects(old: str, new: str) -> None:
    schema = validator(scenario_json_schema())
    assert list(schema.iter_errors(load(SCENARIO))) == []
    assert SCENARIO.count(old) == 1
    assert list(schema.iter_errors(load(SCENARIO.replace(old, new))))


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("site: miit\n", "site: miit\ncolour: red\n"),
        ("  captcha_box:\n", "  captcha_boks:\n"),
        ("      - css: '#shield'\n", "      - css: '#shield'\n        text: x\n"),
        (
            "      - placeholder: 请输入手机号码\n",
            "      - placeholder: 请输入手机号码\n        has_text: x\n",
        ),
        ("      - role: button\n", "      - role: buton\n"),
        ("category: wrong_info", "category: wrong"),
        ("max_parallel: 1", "max_parallel: 0"),
        ("min_interval_s: 10", "min_interval_s: -1"),
        ("rate_limited:", "rate_limited: x\n  slow:"),
    ],
)
def test_selector_map_schema_rejects(old: str, new: str) -> None:
    text = (REPO / "selectors" / "miit.yaml").read_text(encoding="utf-8")
    assert old in text
    errors = list(
        validator(selector_map_json_schema()).iter_errors(load(text.replace(old, new, 1)))
    )
    assert errors


def test_schemas_describe_every_key() -> None:
    scenario = scenario_json_schema()
    assert scenario["$schema"].endswith("2020-12/schema")
    assert "$defs" not in scenario
    assert scenario["properties"]["inputs"]["properties"]["mobile"]["type"] == ["string", "integer"]
    smap = selector_map_json_schema()
    assert "$defs" not in smap
    assert set(smap["properties"]) >= {"front_door", "pacing", "elements", "statuses"}
    pacing = smap["properties"]["pacing"]["properties"]
    assert pacing["max_parallel"]["anyOf"][0]["minimum"] == 1
    assert pacing["min_interval_s"]["minimum"] == 0
