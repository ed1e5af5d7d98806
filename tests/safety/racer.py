"""One icpbot-like process for the race tests: claims a person on the ledger its environment
names, in step with the test through stdin/stdout (no sleeps: each waits for a line).

    python racer.py hold  CODE   ready -> "go" -> claim -> print result -> "finish CAT" -> exit
    python racer.py spend        ready -> "go" -> claim with new codes until the budget refuses
    python racer.py send  CODE   claim, mark_sending, print "sending", then wait to be killed
"""

from __future__ import annotations

import json
import sys

from bot.safety.guard import Claim, claim
from bot.safety.ledger import open_ledger
from bot.types import Category

MOBILE, ID6 = "13912345678", "30721X"


def main() -> None:
    mode = sys.argv[1]
    ledger = open_ledger()
    person = ledger.person_key(MOBILE, ID6)

    def attempt(code: str, run_id: str) -> Claim:
        return claim(
            ledger,
            person,
            "verify",
            scenario="race",
            run_id=run_id,
            mobile_masked="139****5678",
            code=code,
            allow_risky=True,
        )

    if mode == "send":
        got = attempt(sys.argv[2], "run-send")
        assert got.granted
        got.mark_sending()
        print("sending", flush=True)
        sys.stdin.readline()  # killed before it returns
        return
    print("ready", flush=True)
    sys.stdin.readline()
    if mode == "hold":
        got = attempt(sys.argv[2], f"run-{sys.argv[3]}")
        refusal = got.refusal
        status = refusal.status if refusal else None
        message = refusal.message if refusal else None
        report = {"granted": got.granted, "status": status, "message": message}
        print(json.dumps(report), flush=True)
        line = sys.stdin.readline().split()
        if got.granted and line:
            got.mark_sending()
            got.finish(Category(line[1]), 2)
        return
    wins = 0
    tries = 0
    while True:
        tries += 1
        got = attempt(f"{sys.argv[2]}{tries:03d}", f"run-{sys.argv[2]}-{tries}")
        if got.granted:
            got.mark_sending()
            got.finish(Category.wrong_info, 2)
            wins += 1
        elif got.refusal is not None and got.refusal.status != "in_flight":
            break
    last = got.refusal.status if got.refusal else None
    print(json.dumps({"wins": wins, "tries": tries, "last": last}), flush=True)


if __name__ == "__main__":
    main()
