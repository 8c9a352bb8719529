"""Strawberry's ASGI view, fed a context the gateway builds and encoding with orjson.

The GraphQL-over-HTTP parameters are checked here, each with its own message:
Strawberry reads a body that is JSON but not an object as if it were one, and
names the body when a GET's `variables` or `extensions` is not JSON.

An answer to a request that never reached execution has no `data` entry, as the
GraphQL spec asks ("If an error was raised before execution begins, the data entry
should not be present"), where Strawberry writes `"data": null`: a client can tell
"nothing ran" from "the operation ran and its root came out null". The endpoint
gives such an answer a 4xx under `application/graphql-response+json`
(gateway.media_types).
"""

from __future__ import annotations

from typing import Any

import orjson
from cross_web import HTTPException
from strawberry.asgi import GraphQL
from strawberry.http import GraphQLHTTPResponse, GraphQLRequestData, process_result
from strawberry.http.types import QueryParams
from strawberry.types import ExecutionResult

from gateway.graph.context import Context

_JSON_PARAMETERS = ("variables", "extensions")


def request_error(result: ExecutionResult) -> bool:
    """No data, and every error is the request's, not a field's: a field error has a
    path, and one that reaches the root leaves `data` null but present."""
    errors = result.errors
    return result.data is None and bool(errors) and all(e.path is None for e in errors or ())


class GraphQLView(GraphQL[Context, None]):
    def encode_json(self, data: object) -> bytes:
        return orjson.dumps(data)

    def decode_json(self, data: str | bytes) -> Any:
        return orjson.loads(data)

    async def process_result(self, request: Any, result: ExecutionResult) -> GraphQLHTTPResponse:
        answer = process_result(result)
        if request_error(result):
            del answer["data"]
        return answer

    def should_render_graphql_ide(self, request: Any) -> bool:
        return False  # the app serves its own GraphiQL page; a GET without a query is a 400

    def parse_json(self, data: str | bytes) -> Any:
        try:
            value = self.decode_json(data)
        except orjson.JSONDecodeError as exc:  # its message quotes no input
            raise HTTPException(400, f"The request body is not JSON: {exc}") from None
        if not isinstance(value, dict | list):  # a list is a batch: Strawberry refuses it
            raise HTTPException(400, "The request body must be a JSON object.")
        return value

    def parse_query_params(self, params: QueryParams) -> dict[str, Any]:
        parsed: dict[str, Any] = dict(params)
        if parsed.get("operationName") == "":
            # "equivalent to omitting the {operationName} parameter" (GraphQL over HTTP,
            # GET), as the guard and persisted queries read it.
            del parsed["operationName"]
        for name in _JSON_PARAMETERS:
            if parsed.get(name):
                try:
                    parsed[name] = self.decode_json(parsed[name])
                except orjson.JSONDecodeError as exc:  # its message quotes no input
                    raise HTTPException(400, f"The `{name}` parameter is not JSON: {exc}") from None
        return parsed

    async def parse_http_body(self, request: Any) -> GraphQLRequestData | list[GraphQLRequestData]:
        data = await super().parse_http_body(request)
        if isinstance(data, GraphQLRequestData) and not isinstance(data.operation_name, str | None):
            raise HTTPException(400, "The `operationName` must be a string or null, if provided.")
        return data
