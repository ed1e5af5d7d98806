"""The built-in mock of the MIIT SMS-verification page and API (``icpbot mock``, tests, demo).

It follows ``../shared/domain.md``: same paths, envelope, statuses, banner texts and rules (24 h
validity, 5 failures, 2 resends). See :class:`MockSite` for the Python API and
:mod:`bot.mocksite.faults` for the fault syntax.
"""

from __future__ import annotations

from bot.mocksite.faults import Fault, parse_fault
from bot.mocksite.mock import MockSite, serve
from bot.mocksite.site import DEMO_FILINGS, VARIANTS
from bot.mocksite.state import (
    STATUS_TEXT,
    Clock,
    Filing,
    ManualClock,
    SiteState,
    SystemClock,
    banner_text,
    load_filings,
)

__all__ = [
    "DEMO_FILINGS",
    "STATUS_TEXT",
    "VARIANTS",
    "Clock",
    "Fault",
    "Filing",
    "ManualClock",
    "MockSite",
    "SiteState",
    "SystemClock",
    "banner_text",
    "load_filings",
    "parse_fault",
    "serve",
]
