"""The links' list on both back ends: each link with its label (migration 6) and the outcome of
its last run, read in one statement (a join on the run), so the operators' page can say
"failed, last: wrong info"; a run still in flight, or pruned, gives no outcome."""

from __future__ import annotations

import json

from bot.serve.links import Links
from bot.serve.store import ServeStore

from .conftest import Backend


def _run(store: ServeStore, run_id: str, state: str, outcome: dict[str, str] | None) -> None:
    store.execute(
        "INSERT INTO serve_runs (id, created_at, updated_at, action, site, base_url, person,"
        " mobile_masked, state, phase, created_by, outcome) VALUES (?, 1, 1, 'verify', 'miit',"
        " 'https://beian.miit.gov.cn/', 'p', '139****5678', ?, 'done', 'link:x', ?)",
        (run_id, state, None if outcome is None else json.dumps(outcome)),
    )


def test_the_list_has_each_links_label_and_last_outcome(backend: Backend) -> None:
    store = ServeStore(backend.open())
    try:
        links = Links(store)
        made = {
            name: links.add(person="p", mobile_masked="139****5678", sealed="s", base_url=None,
                            expires_in_s=3600, by="test", label=name)[0]
            for name in ("failed", "in flight", "pruned", "new")
        }  # fmt: skip
        _run(store, "r1", "done", {"category": "wrong_info"})
        _run(store, "r2", "running", None)
        for name, run_id in (("failed", "r1"), ("in flight", "r2"), ("pruned", "gone")):
            store.execute(
                "UPDATE serve_links SET attempts = 1, run_id = ?, busy = ? WHERE id = ?",
                (run_id, int(name == "in flight"), made[name]),
            )
        listed = {link.label: link for link in links.all()}
        assert set(listed) == set(made)
        assert listed["failed"].last_outcome == {"category": "wrong_info"}
        assert listed["failed"].public()["status"] == "failed"
        assert listed["failed"].public()["last_outcome"] == "wrong_info"
        assert listed["failed"].public()["tries_left"] == 4
        assert listed["in flight"].last_outcome is None
        assert listed["in flight"].status() == "in_progress"
        assert listed["pruned"].last_outcome is None
        assert listed["pruned"].status() == "waiting"
        assert listed["new"].public()["status"] == "waiting"
        # One link read alone has its label too.
        one = links.get(made["new"])
        assert one is not None
        assert one.label == "new"
    finally:
        store.close()
