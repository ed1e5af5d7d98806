"""The redactor's cost as values accumulate: adding N values, then masking a log line and a
1 MB trace-like text, for N = 3 (one run), 400, and 10 000 (a large people list in one scope).
Not a timed test: ``.venv/bin/python bench/bench_redactor.py`` prints the figures.

The figures to look at: adding grows linearly with N (no pattern rebuilt per value), and masking
a text costs about the same whatever N (one scan per text, a table look-up per digit window).
"""

from __future__ import annotations

import random
import time

from bot.privacy import Redactor


def _text(size: int, values: list[str]) -> str:
    """JSON-ish text with timestamps and ids (many digits, as a trace has) and a few values."""
    rng = random.Random(7)
    parts = []
    while sum(map(len, parts)) < size:
        parts.append(
            f'{{"time": {rng.randrange(10**12, 10**13)}, "id": "page@{rng.randrange(10**6)}",'
            f' "text": "{rng.choice(values)}"}},'
        )
    return "".join(parts)


def main() -> None:
    line = "INFO POST /api/runs 201 12ms for 13800000001 code 123456"
    for n in (3, 400, 10_000):
        values = [f"13{i:09d}" for i in range(0, n * 977, 977)][:n]
        red = Redactor()
        started = time.perf_counter()
        for value in values:
            red.add("mobile", value)
        added = time.perf_counter() - started
        started = time.perf_counter()
        for _ in range(1000):
            red(line)
        per_line = (time.perf_counter() - started) / 1000
        big = _text(1024 * 1024, values)
        started = time.perf_counter()
        masked = red(big)
        per_mb = time.perf_counter() - started
        assert not any(v in masked for v in values[:50])
        print(
            f"N={n:>6}: {n} adds {added * 1000:8.1f} ms; a log line {per_line * 1e6:6.1f} us;"
            f" 1 MB of trace-like text {per_mb * 1000:7.1f} ms"
        )


if __name__ == "__main__":
    main()
