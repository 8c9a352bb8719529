"""The self-hosted GraphiQL page.

GraphiQL, React and the Monaco editor are npm dependencies bundled at build time
(``make static``, see gateway/graphiql/) into gateway/static/graphiql/, which this
module serves. Nothing is loaded from a CDN, so the page works fully offline.

The build also ships the page template (``page.html``); the server's settings reach
the browser as JSON in a non-executable ``<script type="application/json">`` element,
so the page has no inline script and works under a strict script-src policy.
"""

from __future__ import annotations

import html
import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

from gateway.compression import acceptable, encoding_ranks
from gateway.media_types import JSON_TYPES, ranks

BUILD_COMMAND = "make static"
_TEMPLATE_NAME = "page.html"
_REQUIRED_ASSETS = (
    "graphiql.js",
    "graphiql.css",
    "editor.worker.js",
    "json.worker.js",
    "graphql.worker.js",
)
_PLACEHOLDER = re.compile(r"\{\{(\w+)\}\}")


def asks_for_page(scope: Scope) -> bool:
    """A browser's request for the page: a GET (or HEAD) that prefers HTML to JSON.

    A query by GET from a program asks for JSON, even when its Accept names HTML too
    (Java's default does); a browser opening a link with a query (`Sec-Fetch-Dest:
    document`) gets the page, which opens on the link's query.
    """
    if scope["method"] not in ("GET", "HEAD"):
        return False  # before reading any header: every POST asks this twice
    headers = Headers(scope=scope)
    if not _prefers_html(headers.get("accept", "")):
        return False
    if not _QUERY_PARAMS.intersection(parse_qs(scope["query_string"].decode("latin-1"))):
        return True
    return headers.get("sec-fetch-dest") == "document"


_QUERY_PARAMS = frozenset({"query", "extensions"})


def _prefers_html(accept: str) -> bool:
    """`text/html` acceptable (q > 0) and ranked at least as high as any JSON type."""
    ranked = ranks(accept)
    html_q = ranked.get("text/html", 0.0)
    json_q = max(ranked.get(media, 0.0) for media in JSON_TYPES)
    return html_q > 0 and html_q >= json_q


def graphiql_build_dir() -> Path:
    """Where ``make static`` puts the built page template and assets."""
    return Path(__file__).resolve().parent / "static" / "graphiql"


def graphiql_assets_available(*, build_dir: Path | None = None) -> bool:
    """True when the page template and every bundled asset have been built."""
    root = build_dir or graphiql_build_dir()
    assets = root / "assets"
    return (root / _TEMPLATE_NAME).is_file() and all(
        (assets / name).is_file() for name in _REQUIRED_ASSETS
    )


def graphiql_static_app(*, build_dir: Path | None = None) -> StaticFiles:
    """The ASGI app serving the built assets; mount it at the page's ``asset_prefix``.

    Without a build it answers 404 to everything (the page itself explains how to
    build) rather than failing on each request.
    """
    root = build_dir or graphiql_build_dir()
    if not graphiql_assets_available(build_dir=root):
        return StaticFiles()
    return _Assets(directory=root / "assets")


class _Assets(StaticFiles):
    """The assets keep their names from one build to the next: a browser must ask again
    (an ETag makes that a 304) or it runs an old bundle after an upgrade.

    The build writes each asset compressed beside itself (`name.br`, `name.gz`); a
    client that accepts one of them gets it, with the asset's own type. Each file has its
    own ETag, so a 304 always confirms the encoding the browser holds.
    """

    async def get_response(self, path: str, scope: Scope) -> Response:
        if path.endswith(_ENCODED):
            # Compressed bytes, which would go out typed as the asset and not encoded.
            raise HTTPException(status_code=404)
        for coding in _codings(scope):
            try:  # Starlette's own lookup, with its guards (a NUL, a name too long: 404)
                response = await super().get_response(path + _SUFFIXES[coding], scope)
            except HTTPException:
                continue  # no such file: the next coding, or the asset as it is
            if response.status_code == 200:
                # Typed by its name less the suffix already (`mimetypes` reads `.br` and
                # `.gz` as encodings).
                response.headers["content-encoding"] = coding
            return response
        return await super().get_response(path, scope)

    def file_response(self, *args: Any, **kwargs: Any) -> Response:
        response = super().file_response(*args, **kwargs)
        response.headers.update(_ASSET_HEADERS)
        return response


_ASSET_HEADERS = {
    "Cache-Control": "no-cache",
    "X-Content-Type-Options": "nosniff",
    "Vary": "Accept-Encoding",
}
_SUFFIXES = {"br": ".br", "gzip": ".gz"}
_ENCODED = tuple(_SUFFIXES.values())


def _codings(scope: Scope) -> list[str]:
    """The precompressed codings a request accepts, its preferred first (brotli on a tie:
    smaller). None for a range: ranges of several parts would cut the encoded bytes
    into a body no client decodes (asked for with an asset in its cache, which holds the
    identity bytes)."""
    if scope["method"] not in ("GET", "HEAD"):
        return []
    if any(name == b"range" for name, _ in scope["headers"]):
        return []
    ranked = encoding_ranks(scope)
    accepted = [(acceptable(ranked, coding), coding == "br", coding) for coding in _SUFFIXES]
    return [coding for q, _, coding in sorted(accepted, reverse=True) if q > 0]


def render_graphiql_page(
    *,
    endpoint: str = "/graphql",
    asset_prefix: str = "/graphiql-static",
    default_headers: str | None = None,
    default_query: str | None = None,
    build_dir: Path | None = None,
) -> str:
    """The HTML of the GraphiQL page, or of a page saying how to build it."""
    root = build_dir or graphiql_build_dir()
    if not graphiql_assets_available(build_dir=root):
        return _render_missing_assets_page(endpoint)
    config = {
        "endpoint": endpoint,
        "defaultHeaders": default_headers,
        "defaultQuery": default_query,
    }
    values = {
        "asset_prefix": html.escape(asset_prefix.rstrip("/"), quote=True),
        "config_json": _json_for_script_element(config),
    }
    template = (root / _TEMPLATE_NAME).read_text(encoding="utf-8")
    # One pass, so a substituted value is never itself scanned for placeholders.
    return _PLACEHOLDER.sub(lambda match: values[match.group(1)], template)


def _json_for_script_element(value: object) -> str:
    """JSON that cannot end its ``<script>`` element early (no ``<``, ``>`` or ``&``)."""
    text = json.dumps(value, ensure_ascii=True)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _render_missing_assets_page(endpoint: str) -> str:
    return (
        "<!doctype html>\n"
        '<html lang="en">\n'
        '<head><meta charset="utf-8"><title>GraphiQL is not built</title></head>\n'
        "<body>\n"
        "<h1>GraphiQL assets are not built</h1>\n"
        "<p>This gateway serves GraphiQL from locally built files (no CDN), and they "
        "are missing. Build them from the repository root with "
        f"<code>{html.escape(BUILD_COMMAND)}</code> (needs Node.js and npm), "
        "then restart the server. An installed package has them only if they were "
        "built before the package was (as the Dockerfile does): build them in the "
        "checkout, then build or install the package again.</p>\n"
        "<p>The GraphQL endpoint itself works without them: POST JSON to "
        f"<code>{html.escape(endpoint)}</code>.</p>\n"
        "</body>\n"
        "</html>\n"
    )
