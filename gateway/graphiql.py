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
from collections.abc import Mapping
from pathlib import Path

from starlette.staticfiles import StaticFiles

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


def asks_for_page(method: str, headers: Mapping[str, str]) -> bool:
    """A browser's request for the page: a GET that accepts HTML (a query by GET from a
    program asks for JSON)."""
    return method == "GET" and "text/html" in headers.get("accept", "")


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
    return StaticFiles(directory=root / "assets")


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
        "then restart the server.</p>\n"
        "<p>The GraphQL endpoint itself works without them: POST JSON to "
        f"<code>{html.escape(endpoint)}</code>.</p>\n"
        "</body>\n"
        "</html>\n"
    )
