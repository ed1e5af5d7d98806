"""``icpbot ledger list|reset|import``: the attempt ledger, for people.

People are named by scenario files (only their mobile and ID digits are read, so a code whose
``${VAR}`` is unset does not matter) or by ``--mobile`` and ``--id-last6``. Nothing printed here
shows a personal value unmasked: mobiles are masked, persons are salted keys.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from bot.cli.common import echo, fail, ledger_app
from bot.errors import BotError, ConfigError
from bot.types import Category

if TYPE_CHECKING:
    from bot.safety.store import LedgerEntry, LedgerStore, ResetMarker

__all__ = ["ledger_import", "ledger_list", "ledger_reset"]

_Scenarios = Annotated[
    list[Path] | None,
    # Hidden from the Arguments list, where typer would print its Python type: the usage line
    # and each command's docstring name it.
    typer.Argument(
        help="Scenario files naming the people (only mobile and ID digits are read).",
        metavar="SCENARIO",
        hidden=True,
    ),
]
_Mobile = Annotated[
    str | None, typer.Option("--mobile", help="A person's mobile number.", metavar="MOBILE")
]
_Id6 = Annotated[
    str | None,
    typer.Option("--id-last6", help="With --mobile: the last 6 ID characters.", metavar="ID6"),
]


@contextmanager
def _ledger() -> Iterator[LedgerStore]:
    from bot.safety.ledger import open_ledger

    try:
        store = open_ledger()
    except BotError as exc:
        raise fail(exc) from None
    with store:
        yield store


def _people(
    store: LedgerStore, scenarios: list[Path] | None, mobile: str | None, id_last6: str | None
) -> list[tuple[str, str]]:
    """(person key, masked mobile) for each person named; exits with 20 on bad input."""
    from bot.config.scenario import load_person, normalize_id_last6, normalize_mobile
    from bot.privacy import REDACTOR, mask_mobile

    pairs: list[tuple[str, str]] = []
    try:
        for path in scenarios or []:
            pairs.append(load_person(path))
        if (mobile is None) != (id_last6 is None):
            raise ConfigError("--mobile and --id-last6 go together", path="command line")
        if mobile is not None and id_last6 is not None:
            REDACTOR.add("mobile", mobile)
            REDACTOR.add("id_last6", id_last6)
            try:
                pairs.append((normalize_mobile(mobile), normalize_id_last6(id_last6)))
            except ValueError as exc:
                raise ConfigError(str(exc), path="command line") from None
    except ConfigError as exc:
        raise fail(exc) from None
    return [(store.person_key(m, i), mask_mobile(m)) for m, i in pairs]


# -- list ------------------------------------------------------------------------------------


@ledger_app.command("list")
def ledger_list(
    scenarios: _Scenarios = None, mobile: _Mobile = None, id_last6: _Id6 = None
) -> None:
    """Show each person's recorded submissions, failure count and state (masked).

    SCENARIO: scenario files naming the people (only mobile and ID digits are read).
    """
    with _ledger() as store:
        echo(f"ledger: {store.location}")
        named = _people(store, scenarios, mobile, id_last6)
        if named:
            people = named
        else:
            people = [(p, "") for p in store.persons()]
            if not people:
                echo("The ledger is empty: no submission has been recorded yet.")
                return
        for person, masked in people:
            echo()
            _show_person(store, person, masked)


def _local(moment: datetime) -> str:
    from bot.safety.store import local_time

    return local_time(moment)


def _show_person(store: LedgerStore, person: str, masked: str) -> None:
    from bot.safety.budget import FAILURE_HARD_LIMIT, FAILURE_RISKY_LIMIT, SITE_FAILURE_LIMIT

    entries = store.entries(person)
    resets = store.resets(person)
    if not entries:
        echo(f"person {masked}: no attempt recorded (were other values typed?)")
        return
    masked = masked or entries[0].mobile_masked
    failures = store.failures_since_success(person)
    if failures >= FAILURE_HARD_LIMIT:
        budget = "verify refused until `icpbot ledger reset` after a new SMS"
    elif failures == FAILURE_RISKY_LIMIT:
        budget = "the next verify needs --allow-risky-attempt"
    else:
        budget = "within the budget"
    echo(
        f"person {masked} (key {person[:8]}): {failures} of about {SITE_FAILURE_LIMIT} "
        f"failed verifications counted; {budget}"
    )
    for entry in entries:
        if entry.state == "in_flight":
            echo(f"  IN FLIGHT: run {entry.run_id} since {_local(entry.started_at)}")
        elif entry.state == "interrupted":
            counts = "it counts as a possible failure" if entry.counted else "no longer counted"
            echo(
                f"  INTERRUPTED: run {entry.run_id} died after its submission left "
                f"({_local(entry.started_at)}); {counts}"
            )
    rows: list[tuple[str, ...]] = [
        ("WHEN (local time)", "ACTION", "RESULT", "SITE", "SENT", "COUNTS", "SCENARIO", "RUN")
    ]
    for item in _merged(entries, resets):
        if isinstance(item, tuple):
            rows.append((_local(item[0]), "reset", item[1] or "-", "", "", "", "", ""))
            continue
        rows.append(
            (
                _local(item.started_at),
                item.action,
                item.state,
                "" if item.site_status is None else str(item.site_status),
                "yes" if item.sent else "no",
                "yes" if item.counted else "no",
                item.scenario,
                item.run_id,
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        echo("  " + "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip())


def _merged(
    entries: list[LedgerEntry], resets: list[ResetMarker]
) -> list[LedgerEntry | tuple[datetime, str]]:
    """Attempts and resets, newest first."""
    items: list[tuple[datetime, int, LedgerEntry | tuple[datetime, str]]] = [
        (e.started_at, 0, e) for e in entries
    ]
    items += [(r.at, 1, (r.at, r.reason)) for r in resets]
    items.sort(key=lambda t: (t[0], t[1]), reverse=True)
    return [item for _, _, item in items]


# -- reset -----------------------------------------------------------------------------------


@ledger_app.command("reset")
def ledger_reset(
    scenarios: _Scenarios = None,
    mobile: _Mobile = None,
    id_last6: _Id6 = None,
    all_people: Annotated[bool, typer.Option("--all", help="Reset everybody.")] = False,
    reason: Annotated[
        str, typer.Option("--reason", help="Kept with the reset.", metavar="TEXT")
    ] = "reset",
) -> None:
    """Start counting failures afresh after a new SMS (history is kept).

    SCENARIO: scenario files naming the people (only mobile and ID digits are read).
    """
    if not scenarios and mobile is None and id_last6 is None and not all_people:
        echo("error: name scenario files, or --mobile and --id-last6, or pass --all", err=True)
        raise typer.Exit(Category.invalid_input.exit_code)
    with _ledger() as store:
        if all_people:
            n = store.reset(None, reason=reason)
            echo(f"reset {n} person(s)")
            return
        n = 0
        busy = False
        for person, masked in _people(store, scenarios, mobile, id_last6):
            running = store.in_flight(person)
            if running is not None:
                busy = True
                echo(
                    f"not reset: {masked} has run {running.run_id} in flight since "
                    f"{_local(running.started_at)}; reset after it ends",
                    err=True,
                )
                continue
            n += store.reset(person, reason=reason)
        echo(f"reset {n} person(s)")
        if busy:
            raise typer.Exit(Category.refused.exit_code)


# -- import ----------------------------------------------------------------------------------


@ledger_app.command("import")
def ledger_import(
    source: Annotated[
        Path,
        typer.Argument(
            help="A local ledger: its state folder or its ledger.sqlite3.",
            metavar="SOURCE",
            hidden=True,
        ),
    ],
) -> None:
    """Bring a local SQLite ledger into the PostgreSQL ledger of ICPBOT_LEDGER_URL.

    SOURCE: a local ledger, its state folder or its ledger.sqlite3.
    """
    from bot.safety.ledger import Ledger
    from bot.safety.store import utcnow

    folder = source if source.is_dir() else source.parent
    if not (folder / "ledger.sqlite3").is_file() or not (folder / "salt").is_file():
        raise fail(ConfigError("not an icpbot ledger (ledger.sqlite3 and salt)", path=source))
    with _ledger() as target:
        if isinstance(target, Ledger):
            raise fail(ConfigError("set ICPBOT_LEDGER_URL to the PostgreSQL ledger to import into"))
        from bot.safety.pgledger import PgLedger  # the driver is there: target is one

        assert isinstance(target, PgLedger)
        with Ledger(folder) as local:
            salt = (folder / "salt").read_bytes()
            mark = f"imported:{local.salt_fingerprint()}"
            busy = [p for p in local.persons() if local.person_locked(p)]
            if busy:
                raise fail(ConfigError("a run is in flight on this ledger; import after it"))
            if target.meta(mark) is not None:
                raise fail(ConfigError(f"already imported ({target.meta(mark)})", path=source))
            if target.salt_fingerprint() != local.salt_fingerprint():
                if not target.is_empty():
                    raise fail(
                        ConfigError(
                            "the PostgreSQL ledger already holds attempts under another salt, "
                            "so this ledger's person keys would not match; import local ledgers "
                            "before the first run on the shared one",
                            path=source,
                        )
                    )
                target.adopt_salt(salt)
            attempts, resets = local.dump()
            with target.transaction():
                added = target.load_rows(attempts, resets)
                target.set_meta(mark, utcnow().isoformat())
    echo(f"imported {added} attempt(s) and {len(resets)} reset(s) into {target.location}")
