"""GraphQL over HTTP's media types, and which one an `Accept` header asks for.

The spec's own type, `application/graphql-response+json`, lets an answer's status
say what happened: an answer without data (a request that never reached
execution, or a refusal) is a 4xx, where the legacy `application/json` answers
200 for a document or its variables refused. A client gets the spec's type when it
ranks it at least as high as JSON (GraphiQL's schema fetch sends
`application/graphql-response+json, application/json;q=0.9`); every other client,
and one that sends no `Accept` or `*/*`, gets `application/json` as before. Every
answer of the GraphQL endpoint, refusals included, has its type so.
"""

from __future__ import annotations

JSON = "application/json"
GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON_TYPES = frozenset({JSON, GRAPHQL_RESPONSE})
_JSON_RANGES = (JSON, "application/*", "*/*")


def ranks(accept: str) -> dict[str, float]:
    """Each media range the header names, lower-cased, with its highest `q` (an
    unreadable `q` is 0: not acceptable)."""
    ranked: dict[str, float] = {}
    for item in accept.split(","):
        media, *parameters = (part.strip() for part in item.split(";"))
        q = 1.0
        for parameter in parameters:
            name, _, value = parameter.partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        media = media.lower()
        ranked[media] = max(ranked.get(media, q), q)
    return ranked


def answer_type(accept: str) -> str:
    """The media type of a GraphQL answer to a request with this `Accept` header."""
    if "graphql-response" not in accept.lower():  # nearly every request: no parsing
        return JSON
    ranked = ranks(accept)
    ours = ranked.get(GRAPHQL_RESPONSE, 0.0)
    # JSON's rank is that of the most specific range naming it (RFC 9110, 12.5.1): a
    # `*/*` beside `application/json;q=0.5` does not lift it.
    legacy = next((ranked[media] for media in _JSON_RANGES if media in ranked), 0.0)
    return GRAPHQL_RESPONSE if ours > 0 and ours >= legacy else JSON
