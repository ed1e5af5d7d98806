"""icpbot's pytest plugin (:mod:`bot.testing.plugin`, loaded by the ``pytest11`` entry point) and
the remote handle it uses for ``--icpbot-site``."""

from __future__ import annotations

from bot.testing.remote import RemoteMock

__all__ = ["RemoteMock"]
