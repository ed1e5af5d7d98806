# The two commands of the README. Each one sets everything up first (idempotent, fast when done).
.PHONY: demo test setup lint bench clean

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

bench: setup
	$(PY) bench/startup.py
	$(PY) bench/bench_batch.py

clean:
	rm -rf .venv .mypy_cache .ruff_cache
