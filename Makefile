# The two commands of the README. Each one sets everything up first (idempotent, fast when done).
.PHONY: demo test setup lint bench clean i18n

PY := .venv/bin/python

setup:
	@bash scripts/setup.sh

demo: setup
	@$(PY) -m bot demo

test: setup
	$(PY) -m ruff check bot tests bench
	$(PY) -m mypy
	.venv/bin/lint-imports
	$(PY) -m pytest

# The message catalogs brought up to date with the sources (docs/i18n.md); `make test` fails
# until they are, and until every shipped language has every text translated.
i18n: setup
	$(PY) -m bot.i18n.extract

bench: setup
	$(PY) bench/startup.py
	$(PY) bench/bench_batch.py

clean:
	rm -rf .venv .mypy_cache .ruff_cache
