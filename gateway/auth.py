"""API key → the client calling, and through it the organizations it may read."""

from __future__ import annotations

import hashlib
import hmac

from gateway.config import ClientSettings, Settings


def _digest(api_key: str) -> bytes:
    return hashlib.sha256(api_key.encode()).digest()


def _bearer(authorization: str | None) -> str | None:
    if not authorization:
        return None
    scheme, _, key = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        return None
    return key.strip()


class Authenticator:
    """Looks keys up by their digest, so no comparison leaks a key's prefix by its timing."""

    def __init__(self, settings: Settings) -> None:
        self._clients = {_digest(c.api_key.reveal()): c for c in settings.clients}
        token = settings.server.metrics_token
        self._scraper = _digest(token.reveal()) if token is not None else None

    def client(self, authorization: str | None) -> ClientSettings | None:
        key = _bearer(authorization)
        return self._clients.get(_digest(key)) if key is not None else None

    def may_scrape(self, authorization: str | None) -> bool:
        """Whether `/metrics` answers: to anyone, unless `server.metrics_token` is set."""
        if self._scraper is None:
            return True
        key = _bearer(authorization)
        return key is not None and hmac.compare_digest(_digest(key), self._scraper)
