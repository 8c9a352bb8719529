"""Persisted queries: Apollo's automatic persisted queries (APQ), and trusted documents.

APQ: a request may carry `extensions.persistedQuery = {version: 1, sha256Hash}`.
With the document too, the hash is checked and the document registered in the
app's cache (key `gw:v1:apq:<hash>`, shared by every client and replica); with
the hash alone, the registered document runs, or the answer is HTTP 200 with
`PersistedQueryNotFound` (code PERSISTED_QUERY_NOT_FOUND) and the client sends
both. Registering needs a valid API key, like every request.

Trusted documents (`[graphql] trusted_documents = "manifest.json"`): only the
operations of the manifest run, named by id or sha256 hash, or sent as an
identical document; anything else is refused before it is parsed, with HTTP 400
and code PERSISTED_QUERY_NOT_ALLOWED. APQ registration is then off, and GraphiQL
runs only listed operations too (its schema introspection included).

Both work over POST (JSON body) and GET (URL parameters). A resolved document
reaches Strawberry as if the client had sent it: the request is rebuilt with it.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import orjson
from starlette.requests import Request
from starlette.responses import Response

from gateway.cache import Cache, CacheItem
from gateway.cache.keys import PREFIX
from gateway.config import Settings
from gateway.digits import declared_over
from gateway.errors import Code, ConfigError
from gateway.http_guard import (
    GET_QUERIES_ONLY,
    error_response,
    replay_body,
    runs_on_get,
)
from gateway.observe import note_persisted

KEY_PREFIX = f"{PREFIX}apq:"
NOT_FOUND = "PersistedQueryNotFound"
NOT_SUPPORTED = "PersistedQueryNotSupported"
MANIFEST_FORMAT = "apollo-persisted-query-manifest"
_SHA256 = re.compile(r"[0-9a-f]{64}")
# Apollo's choice: a persisted-query miss is not an HTTP error. Like every /graphql
# answer it is `no-store` (observe.Observability.wrap), never cached.


def sha256_hex(document: str) -> str:
    return hashlib.sha256(document.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Manifest:
    """Trusted documents by id and by the sha256 of their body."""

    documents: Mapping[str, str]

    def find(self, id_or_hash: str) -> str | None:
        return self.documents.get(id_or_hash)

    def lists(self, document: str) -> bool:
        return self.documents.get(sha256_hex(document)) == document


def load_manifest(path: str) -> Manifest:
    """An Apollo persisted-query manifest, or a plain `{hash: document}` map."""
    where = "graphql.trusted_documents"
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{where}: cannot read {path}: {exc}") from None
    except ValueError:
        raise ConfigError(f"{where}: {path} is not JSON") from None
    except RecursionError:
        raise ConfigError(f"{where}: {path} is not JSON (nested too deeply)") from None
    pairs: list[tuple[str, str]] = []
    if isinstance(data, dict) and "format" in data:
        if data.get("format") != MANIFEST_FORMAT or data.get("version") != 1:
            raise ConfigError(f"{where}: expected format {MANIFEST_FORMAT!r} version 1")
        operations = data.get("operations")
        if not isinstance(operations, list):
            raise ConfigError(f"{where}: 'operations' must be an array")
        for i, op in enumerate(operations):
            if not (isinstance(op, dict) and _strings(op.get("id"), op.get("body"))):
                raise ConfigError(f"{where}: operations[{i}] needs a string id and body")
            pairs.append((op["id"], op["body"]))
    elif isinstance(data, dict) and all(_strings(k, v) for k, v in data.items()):
        pairs = list(data.items())
    else:
        raise ConfigError(f"{where}: expected an {MANIFEST_FORMAT} or a {{hash: document}} object")
    documents: dict[str, str] = {}
    for id_, body in pairs:
        documents[id_] = body
        documents[sha256_hex(body)] = body
    return Manifest(documents)


def _strings(*values: object) -> bool:
    return all(isinstance(v, str) and v for v in values)


class PersistedQueries:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings.graphql
        self._max_body = settings.limits.max_body_bytes
        self._max_document = settings.limits.max_document_bytes
        path = settings.graphql.trusted_documents
        self.manifest = load_manifest(path) if path is not None else None

    async def resolve(self, request: Request, cache: Cache) -> Request | Response:
        """The request to execute (rebuilt with its document), or the answer refusing it."""
        body = b""
        if request.method == "POST":
            read = await _read_body(request, self._max_body)
            if read is None:
                return error_response(
                    413, f"The request body is over {self._max_body} bytes.", Code.BAD_REQUEST
                )
            body = read
            if self.manifest is None and b"persistedQuery" not in body:
                return _replay(request, body)  # the common case: nothing to look at
            try:
                payload: Any = orjson.loads(body)
            except orjson.JSONDecodeError:
                return _replay(request, body)  # Strawberry answers that one
        else:
            payload = _query_params(request)
            if payload is None:
                return request
        if self.manifest is not None:
            return self._trusted(request, payload, body)
        if not isinstance(payload, dict):
            return _replay(request, body)
        return await self._automatic(request, payload, body, cache)

    async def _automatic(
        self, request: Request, payload: dict[str, Any], body: bytes, cache: Cache
    ) -> Request | Response:
        pq = _persisted_query(payload)
        if pq is None:
            return _replay(request, body)
        operation = payload.get("operationName")
        if not self._settings.persisted_queries:
            note_persisted("refused", operation)
            return error_response(200, NOT_SUPPORTED, Code.PERSISTED_QUERY_NOT_SUPPORTED)
        if pq.get("version") != 1:
            return error_response(
                400, "Unsupported persisted query version; use 1.", Code.BAD_REQUEST
            )
        digest = pq.get("sha256Hash")
        if not isinstance(digest, str) or not _SHA256.fullmatch(digest.lower()):
            return error_response(
                400,
                "extensions.persistedQuery.sha256Hash must be a SHA-256 hex digest.",
                Code.BAD_REQUEST,
            )
        digest = digest.lower()
        query = payload.get("query")
        if isinstance(query, str) and query:
            if sha256_hex(query) != digest:
                return error_response(400, "provided sha does not match query", Code.BAD_REQUEST)
            if len(query.encode()) <= self._max_document:
                await self._register(cache, digest, query)
            note_persisted("registered", operation)
            return _replay(request, body)
        if query is not None:
            return _replay(request, body)  # not a string: Strawberry answers that one
        document = await self._lookup(cache, digest)
        if document is None:
            note_persisted("miss", operation)
            return error_response(200, NOT_FOUND, Code.PERSISTED_QUERY_NOT_FOUND)
        note_persisted("hit", operation)
        return _with_query(request, payload, document)

    def _trusted(self, request: Request, payload: Any, body: bytes) -> Request | Response:
        assert self.manifest is not None
        if not isinstance(payload, dict):
            if isinstance(payload, list):
                return self._refuse(None)  # a batch: not one listed operation
            return _replay(request, body)
        operation = payload.get("operationName")
        query = payload.get("query")
        pq = _persisted_query(payload)
        digest = pq.get("sha256Hash") if pq is not None else None
        if isinstance(digest, str):
            document = self.manifest.find(digest) or self.manifest.find(digest.lower())
            if document is None or (isinstance(query, str) and query and query != document):
                return self._refuse(operation)
            note_persisted("hit", operation)
            return _with_query(request, payload, document)
        if isinstance(query, str) and query:
            if not self.manifest.lists(query):
                return self._refuse(operation)
            note_persisted("hit", operation)
        return _replay(request, body) if request.method == "POST" else request

    def _refuse(self, operation: object) -> Response:
        note_persisted("refused", operation)
        return error_response(
            400,
            "This server runs only the operations of its trusted documents manifest; "
            "this one is not in it.",
            Code.PERSISTED_QUERY_NOT_ALLOWED,
        )

    async def _register(self, cache: Cache, digest: str, query: str) -> None:
        # A write: a load would join a lookup of the same hash under way (another
        # client's, or this one's hash-only try) and end with its miss, an INTERNAL
        # answer and nothing registered (the tenants audit).
        ttl = self._settings.persisted_query_ttl_s
        await cache.put(KEY_PREFIX + digest, "apq", query, ttl_s=ttl)

    async def _lookup(self, cache: Cache, digest: str) -> str | None:
        found: list[str] = []

        async def fetch() -> str:
            # A miss, unless the cache refreshes an entry it just served stale:
            # then the document is known, and its TTL starts over.
            if found:
                return found[0]
            raise _Missing

        ttl = self._settings.persisted_query_ttl_s
        try:
            document = await cache.load(CacheItem(KEY_PREFIX + digest, "apq", fetch, ttl_s=ttl))
        except _Missing:
            return None
        if not isinstance(document, str):
            return None
        found.append(document)
        return document


class _Missing(Exception):
    """No document registered under a hash."""


def _persisted_query(payload: Mapping[str, Any]) -> Mapping[str, Any] | None:
    extensions = payload.get("extensions")
    pq = extensions.get("persistedQuery") if isinstance(extensions, Mapping) else None
    return pq if isinstance(pq, Mapping) else None


def _query_params(request: Request) -> dict[str, Any] | None:
    """A GET's GraphQL parameters, with `extensions` decoded; None when it has none."""
    params: dict[str, Any] = dict(request.query_params)
    raw = params.get("extensions")
    if raw is not None:
        try:
            params["extensions"] = orjson.loads(raw)
        except orjson.JSONDecodeError:
            return None  # Strawberry answers that one
    return params


async def _read_body(request: Request, limit: int) -> bytes | None:
    """The whole body, or None when it is over `limit` bytes (declared or sent)."""
    if declared_over(request.headers.get("content-length"), limit):
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def _replay(request: Request, body: bytes) -> Request:
    """The request again, with its body (already read off the wire) to be read once more."""
    return Request(request.scope, replay_body(body, request.receive))


def _with_query(request: Request, payload: Mapping[str, Any], document: str) -> Request | Response:
    if request.method == "GET":
        # As the guard refuses a GET that sends such a document by its text.
        named = request.query_params.get("operationName") or None
        if not runs_on_get(document, named):
            return error_response(405, GET_QUERIES_ONLY, Code.BAD_REQUEST, {"Allow": "POST"})
        params = [(k, v) for k, v in request.query_params.multi_items() if k != "query"]
        params.append(("query", document))
        scope = {**request.scope, "query_string": urlencode(params).encode()}
        return Request(scope, request.receive)
    return _replay(request, orjson.dumps({**payload, "query": document}))
