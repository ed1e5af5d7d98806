# The two commands of the README. Each one sets everything up first (idempotent, fast when done).
.PHONY: demo test setup lint bench docs clean i18n

PY := .venv/bin/python

setup:
	@bash scripts/setup.sh

demo: setup
	@$(PY) -m bot demo

test: setup
	$(PY) -m ruff check bot tests bench scripts
	$(PY) -m mypy
	.venv/bin/lint-imports
	NO_MKDOCS_2_WARNING=1 .venv/bin/mkdocs build --strict --quiet
	$(PY) -m pytest

# The message catalogs brought up to date with the sources (docs/i18n.md); `make test` fails
# until they are, and until every shipped language has every text translated.
i18n: setup
	$(PY) -m bot.i18n.extract

bench: setup
	$(PY) bench/startup.py
	$(PY) bench/bench_batch.py

# The docs site on http://127.0.0.1:$(DOCS_PORT)/, rebuilt on each edit; the reference pages
# are written from the code first (scripts/gen_docs.py: commit what it changes).
DOCS_PORT ?= 8008
docs: setup
	$(PY) scripts/gen_docs.py
	NO_MKDOCS_2_WARNING=1 .venv/bin/mkdocs serve --dev-addr 127.0.0.1:$(DOCS_PORT)

clean:
	rm -rf .venv .mypy_cache .ruff_cache site
