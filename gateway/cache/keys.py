"""Cache key names: tenant-scoped, canonical, and free of secrets.

A key is `gw:v1:<org>:<source>:<upstream hash>:<kind>:<parts hash>`. The
upstream hash covers the base URL and the credential, so two tenants never
share an entry and a rotated token never reads an old one; only a truncated
sha256 of the credential is ever part of a name. In Redis, a namespace follows
`gw:v1:` (`RedisStore.name`).
"""

from __future__ import annotations

import functools
import hashlib
import json
import re

from gateway.canonical import canonical_digest

PREFIX = "gw:v1:"
_SAFE = re.compile(r"[A-Za-z0-9_.-]{1,64}")


def _safe(name: str) -> str:
    """The name itself when it is short and plain, else a hash of it (never ambiguous)."""
    if _SAFE.fullmatch(name):
        return name
    return "~" + hashlib.sha256(name.encode()).hexdigest()[:16]


@functools.lru_cache(maxsize=1024)
def scope(organization_id: str, source: str, base_url: str, credential: str) -> str:
    """The tenant part of a key: organization, upstream, short hash of the credential.

    Remembered: every cache key of every request starts with one of the few."""
    material = json.dumps(["gw-scope", source, base_url, credential], separators=(",", ":"))
    digest = hashlib.sha256(material.encode()).hexdigest()[:16]
    return f"{_safe(organization_id)}:{_safe(source.lower())}:{digest}"


def cache_key(scope: str, kind: str, *parts: object) -> str:
    """A stable key for `parts` (see `gateway.canonical` for what they may be)."""
    return f"{PREFIX}{scope}:{_safe(kind)}:{canonical_digest(parts)}"


def lock_key(key: str) -> str:
    """The name of the cross-replica fetch lock of `key`."""
    return f"{key}:lock"
