"""``POST /api/batches`` through a real ``icpbot serve``: a people CSV (the ``--people`` format)
queues one run per row, each of which ends; a list with a bad row queues nothing and names the
row and the column, never the value."""

from __future__ import annotations

import pytest

from bot.mocksite import Filing, MockSite
from tests.serve.conftest import Serve

pytestmark = pytest.mark.browser

PEOPLE = [("13912345678", "30721X", "864209"), ("13800138000", "123456", "246810")]


def _csv(rows: list[tuple[str, str, str]]) -> bytes:
    lines = ["name,mobile,code,id_last6"]
    lines += [f"person-{n},{mobile},{code},{id6}" for n, (mobile, id6, code) in enumerate(rows)]
    return ("\n".join(lines) + "\n").encode()


def test_a_people_csv_queues_one_run_per_row(serve: Serve, site: MockSite) -> None:
    site.load_filings([Filing(mobile, id6, code) for mobile, id6, code in PEOPLE])
    api = serve.client()
    made = api.post(
        "/api/batches",
        files={"people": ("people.csv", _csv(PEOPLE), "text/csv")},
        data={"action": "verify", "base_url": site.url},
    )
    assert made.status_code == 201, made.text
    batch = made.json()
    assert len(batch["runs"]) == 2
    for run_id in batch["runs"]:
        done = serve.wait_run(api, run_id, lambda r: r["state"] == "done", s=90)
        assert done["outcome"]["category"] == "success", done
    listed = {r["id"]: r for r in api.get("/api/runs").json()}
    assert {listed[i]["batch_id"] for i in batch["runs"]} == {batch["id"]}
    assert sorted(listed[i]["person"] for i in batch["runs"]) == ["138****8000", "139****5678"]
    assert len(site.submissions()) == 2
    printed = serve.stop()
    for row in PEOPLE:
        for value in row:
            assert value not in printed


def test_a_people_csv_with_a_bad_row_queues_nothing(serve: Serve, site: MockSite) -> None:
    api = serve.client()
    bad = [PEOPLE[0], ("12345678901", "30721X", "864209")]
    answer = api.post(
        "/api/batches",
        files={"people": ("people.csv", _csv(bad), "text/csv")},
        data={"action": "verify", "base_url": site.url},
    )
    assert answer.status_code == 422, answer.text
    [problem] = answer.json()["detail"]
    assert problem["loc"][:2] == ["body", "people"]
    assert "mobile" in problem["loc"][-1]
    assert problem["msg"].startswith("line 3")
    assert "12345678901" not in answer.text
    assert api.get("/api/runs").json() == []
    # Nor is a list without its action.
    no_action = api.post("/api/batches", files={"people": ("p.csv", _csv(PEOPLE), "text/csv")})
    assert no_action.status_code == 422
    assert api.get("/api/runs").json() == []
