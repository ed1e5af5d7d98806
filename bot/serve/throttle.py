"""Failed logins, counted by key, with a back-off that doubles (:class:`LoginThrottle`)."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

__all__ = ["LoginThrottle"]


@dataclass
class LoginThrottle:
    """Failed logins by key (``name:…``, ``ip:…``): after ``free`` failures of a key, each
    further failure locks it for ``base_s`` × 2^(extra failures), at most ``most_s``."""

    free: dict[str, int] = field(default_factory=lambda: {"name": 5, "ip": 20})
    base_s: float = 30.0
    most_s: float = 900.0
    forget_s: float = 3600.0  # an hour without a failure (past any lock): counted from 0
    clock: Callable[[], float] = time.monotonic
    _failures: dict[str, tuple[int, float]] = field(default_factory=dict)

    def wait_s(self, keys: Sequence[str]) -> float:
        """Seconds until any of ``keys`` may try again (0: now)."""
        now = self.clock()
        return max((self._failures.get(k, (0, now))[1] - now for k in keys), default=0.0)

    def failed(self, keys: Sequence[str]) -> None:
        now = self.clock()
        if len(self._failures) > 10_000:  # a flood of names: forget the oldest half
            for k, _ in sorted(self._failures.items(), key=lambda kv: kv[1][1])[:5000]:
                del self._failures[k]
        for key in keys:
            count, until = self._failures.get(key, (0, now))
            count = count + 1 if now - until < self.forget_s else 1
            extra = count - self.free.get(key.partition(":")[0], 5)
            until = now + min(self.most_s, self.base_s * 2**extra) if extra >= 0 else now
            self._failures[key] = (count, until)

    def succeeded(self, key: str) -> None:
        self._failures.pop(key, None)
