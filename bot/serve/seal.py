"""The service's secret: seals the values a queued run needs (mobile, code, ID digits) while they
wait in the database, and signs the operators' session cookies.

``ICPBOT_SERVE_SECRET`` (any long random string), when set, is the secret: then the database
alone does not open the sealed values. Otherwise the first process creates one and keeps it in
the database (``serve_meta``), so that every process sharing it can resume any run.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets

from cryptography.fernet import Fernet, InvalidToken

from bot.serve.store import ServeStore

__all__ = ["SECRET_ENV", "Sealer"]

SECRET_ENV = "ICPBOT_SERVE_SECRET"


def _derive(secret: str, label: str) -> bytes:
    return hashlib.sha256(f"icpbot-serve:{label}:{secret}".encode()).digest()


class Sealer:
    """Seals and opens small JSON documents; gives the cookie-signing key."""

    def __init__(self, store: ServeStore) -> None:
        secret = os.environ.get(SECRET_ENV, "").strip()
        if not secret:
            secret = store.meta("secret", lambda: secrets.token_urlsafe(32))
        self._fernet = Fernet(base64.urlsafe_b64encode(_derive(secret, "seal")))
        self.signing_key = base64.urlsafe_b64encode(_derive(secret, "cookies")).decode()
        #: signs the requests one process forwards to another (:mod:`bot.serve.forward`)
        self.fleet_key = _derive(secret, "fleet")

    def seal(self, values: dict[str, str | None]) -> str:
        return self._fernet.encrypt(json.dumps(values).encode()).decode()

    def open(self, sealed: str) -> dict[str, str | None]:
        """The values; ValueError when the secret changed since they were sealed."""
        try:
            data = json.loads(self._fernet.decrypt(sealed.encode()))
        except InvalidToken as exc:
            raise ValueError(f"sealed with another secret ({SECRET_ENV} changed?)") from exc
        return {str(k): (None if v is None else str(v)) for k, v in data.items()}
