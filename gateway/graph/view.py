"""Strawberry's ASGI view, fed a context the gateway builds and encoding with orjson."""

from __future__ import annotations

from typing import Any

import orjson
from strawberry.asgi import GraphQL

from gateway.graph.context import Context


class GraphQLView(GraphQL[Context, None]):
    def encode_json(self, data: object) -> bytes:
        return orjson.dumps(data)

    def decode_json(self, data: str | bytes) -> Any:
        return orjson.loads(data)
