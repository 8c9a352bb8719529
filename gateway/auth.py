"""API key → the client calling, and through it the organizations it may read."""

from __future__ import annotations

import hashlib

from gateway.config import ClientSettings, Settings


def _digest(api_key: str) -> bytes:
    return hashlib.sha256(api_key.encode()).digest()


class Authenticator:
    """Looks keys up by their digest, so no comparison leaks a key's prefix by its timing."""

    def __init__(self, settings: Settings) -> None:
        self._clients = {_digest(c.api_key.reveal()): c for c in settings.clients}

    def client(self, authorization: str | None) -> ClientSettings | None:
        if not authorization:
            return None
        scheme, _, key = authorization.strip().partition(" ")
        if scheme.lower() != "bearer" or not key.strip():
            return None
        return self._clients.get(_digest(key.strip()))
