"""GraphQL over HTTP's media types, and which one an `Accept` header asks for.

The spec's own type, `application/graphql-response+json`, lets an answer's status
say what happened: an answer without data (a request that never reached
execution, or a refusal) is a 4xx, where the legacy `application/json` answers
200 for a document or its variables refused. A client gets the spec's type when it
ranks it higher than JSON, or as high while naming it (GraphiQL's schema fetch sends
`application/graphql-response+json, application/json;q=0.9`); every other client,
and one that sends no `Accept` or `*/*`, gets `application/json` as before. Every
answer of the GraphQL endpoint, refusals included, has its type so.
"""

from __future__ import annotations

from starlette.datastructures import Headers

JSON = "application/json"
GRAPHQL_RESPONSE = "application/graphql-response+json"
JSON_TYPES = frozenset({JSON, GRAPHQL_RESPONSE})
_WILDCARDS = ("application/*", "*/*")


def accept_of(headers: Headers) -> str:
    """Every `Accept` header a request sent, as one (RFC 9110, 5.3)."""
    return ", ".join(headers.getlist("accept"))


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
    """The media type of a GraphQL answer to a request with this `Accept` header (all
    of its values, joined). Each type ranks as the most specific range that names it
    (RFC 9110, 12.5.1): `application/json;q=0.5` is not lifted by a `*/*` beside it,
    and a wildcard ranks the spec's type as it ranks JSON. On a tie the spec's type
    wins only where it is named: `*/*` alone, or no header, gets JSON (GraphQL over
    HTTP's legacy rule, and what a client that names nothing expects)."""
    lowered = accept.lower()
    if "graphql-response" not in lowered and "*" not in lowered:  # no parsing, mostly
        return JSON
    ranked = ranks(lowered)
    ours, legacy = _rank(ranked, GRAPHQL_RESPONSE), _rank(ranked, JSON)
    named = GRAPHQL_RESPONSE in ranked
    if ours > legacy or (named and ours > 0 and ours == legacy):
        return GRAPHQL_RESPONSE
    return JSON


def _rank(ranked: dict[str, float], media: str) -> float:
    return next((ranked[m] for m in (media, *_WILDCARDS) if m in ranked), 0.0)
