"""Tells a caller when part of its answer came from a stale cache entry.

Stale data is served on purpose (stale-while-revalidate, or an upstream failure
answered from the last good entry), but never silently: the response's
`extensions.cache` then carries the request's cache notes. Fresh answers carry
nothing, so that a warm response is byte for byte the cold one.
"""

from __future__ import annotations

from typing import Any

from strawberry.extensions import SchemaExtension

from gateway.cache import CacheNotes


class CacheNotesExtension(SchemaExtension):
    def get_results(self) -> dict[str, Any]:
        notes = getattr(self.execution_context.context, "notes", None)
        if not isinstance(notes, CacheNotes) or not (notes.stale or notes.stale_on_error):
            return {}
        return {"cache": notes.as_extensions()}
