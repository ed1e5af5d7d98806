#!/usr/bin/env bash
# One-shot, idempotent set-up: .venv with icpbot (editable) and the locked versions of its
# dependencies and test tools (uv.lock), a Chromium that
# Playwright can drive, and CJK fonts so that screenshots of the Chinese page are readable.
# A second call with nothing to do finishes in about a second.
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=.venv
PY="$VENV/bin/python"
say() { printf 'setup: %s\n' "$*" >&2; }

# 1. Python environment ---------------------------------------------------------------------------
if [ ! -x "$PY" ]; then
    PYTHON=${PYTHON:-}
    if [ -z "$PYTHON" ]; then
        for cand in python3.13 python3.12 python3.11 python3; do
            if command -v "$cand" >/dev/null 2>&1 &&
               "$cand" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
                PYTHON=$cand; break
            fi
        done
    fi
    [ -n "$PYTHON" ] || { say "Python 3.11 or newer is required"; exit 1; }
    say "creating $VENV with $PYTHON"
    "$PYTHON" -m venv "$VENV"
fi
# The versions the tests ran with are in uv.lock: uv (bootstrapped with pip, then kept by the lock
# itself) installs exactly those, icpbot editable, every extra and the dev group; a second call
# with nothing to change takes milliseconds. After editing the dependencies in pyproject.toml,
# refresh the lock (`.venv/bin/uv lock`; `uv lock --upgrade` for newer releases) and commit it.
UV="$VENV/bin/uv"
if [ ! -x "$UV" ]; then
    say "installing uv into $VENV"
    # (This machine's pip.conf names local mirrors that may be absent: pip warns per package.)
    "$PY" -m pip install -q --disable-pip-version-check "$(grep -oE '"uv==[0-9.]+"' pyproject.toml | tr -d '"')" 2>&1 |
        { grep -v 'is ignored: it is neither a file nor a directory' || true; }
fi
# The lock is checked against pyproject.toml (offline; the indexes below play no part in that),
# exported with its hashes, and synced: exactly those versions, nothing else, icpbot editable.
# uv reads no pip.conf: a PyPI mirror named there (index-url) is handed to uv; the pinned
# versions and hashes are the same on any mirror of PyPI. (pip.conf's extra-index-url here
# names local folders that are not PyPI mirrors: not used.)
REQS="$VENV/.icpbot-locked.txt"
if ! env -u UV_DEFAULT_INDEX -u UV_INDEX_URL -u UV_INDEX \
        "$UV" export -q --locked --all-extras --all-groups -o "$REQS"; then
    say "uv.lock does not match pyproject.toml's dependencies: run $UV lock, then commit uv.lock"
    exit 1
fi
if [ -z "${UV_DEFAULT_INDEX:-}${UV_INDEX_URL:-}" ]; then
    mirror=${PIP_INDEX_URL:-$("$PY" -m pip config get global.index-url 2>/dev/null || true)}
    if [ -n "$mirror" ]; then export UV_DEFAULT_INDEX=$mirror; fi
fi
# Compiled: uv writes no bytecode by default, and where PYTHONDONTWRITEBYTECODE is set (as on
# this machine) Python never writes any, so every start compiled playwright, pydantic and icpbot
# from source again (0.5 s of a 1.7 s verify). Unchanged files are skipped on a second call.
"$UV" pip sync -q --compile-bytecode --python "$PY" "$REQS"
"$PY" -m compileall -q bot

# 2. A browser ------------------------------------------------------------------------------------
is_root() { [ "$(id -u)" = 0 ]; }
apt_install() {
    is_root && command -v apt-get >/dev/null 2>&1 || return 1
    say "apt-get install -y $*"
    export DEBIAN_FRONTEND=noninteractive
    # Lists may be missing on a fresh machine; one update, then install.
    if ! apt-get install -y -q --no-install-recommends "$@" >/dev/null 2>&1; then
        apt-get update -q >/dev/null 2>&1 || true
        apt-get install -y -q --no-install-recommends "$@" >/dev/null
    fi
}
if ! "$PY" -m bot.page.browser >/dev/null 2>&1; then
    say "no browser found; trying: python -m playwright install chromium"
    if ! timeout 300 "$PY" -m playwright install chromium >/dev/null 2>&1 ||
       ! "$PY" -m bot.page.browser >/dev/null 2>&1; then
        say "Playwright could not download its Chromium; trying the system package"
        apt_install chromium chromium-headless-shell fonts-noto-cjk || true
    fi
    "$PY" -m bot.page.browser >&2 || exit 1
fi
browser=$("$PY" -m bot.page.browser 2>&1)
# A system Chromium (Debian's): headless runs use its headless shell, the kind of browser
# Playwright's own install runs headless (lighter: docs/memory.md), so that CI runs what users get.
if [ "${browser#system: }" != "$browser" ] && ! command -v chromium-headless-shell >/dev/null 2>&1; then
    if apt_install chromium-headless-shell; then
        browser=$("$PY" -m bot.page.browser 2>&1)
    else
        say "WARNING: no chromium-headless-shell; headless runs use the full Chromium (apt-get install chromium-headless-shell)"
    fi
fi
say "browser: $browser"

# 3. CJK fonts (without them every Chinese character in a screenshot is an empty box) ------------
if command -v fc-list >/dev/null 2>&1 && [ -z "$(fc-list :lang=zh 2>/dev/null | head -1)" ]; then
    apt_install fonts-noto-cjk || say "WARNING: no CJK fonts; install fonts-noto-cjk (or any Chinese font)"
fi

# 4. PostgreSQL server binaries: the ledger's contract tests start a throw-away server on a unix
#    socket (tests/safety/pgserver.py); icpbot itself only needs a server when ICPBOT_LEDGER_URL is set.
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && ! command -v initdb >/dev/null 2>&1; then
    apt_install postgresql ||
        say "WARNING: no PostgreSQL server; the PostgreSQL ledger tests need one (apt-get install postgresql)"
fi

# 5. nginx (Debian's package): the fleet tests (tests/fleet/) put two serve processes behind it,
#    round-robin, as a team runs them; icpbot itself never needs it.
if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ]; then
    apt_install nginx ||
        say "WARNING: no nginx; the fleet tests need it (apt-get install nginx)"
fi
exit 0
