"""icpbot: fills the MIIT ICP-filing SMS verification form from YAML scenarios, with evidence."""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
