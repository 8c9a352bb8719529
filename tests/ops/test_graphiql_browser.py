"""GraphiQL in a real browser: `gateway serve --sandbox`, headless Chromium, the dashboard.

Chromium is Debian's (/usr/bin/chromium), driven by playwright-python; the
screenshot is kept under tests/artifacts/ (not versioned).
"""

from __future__ import annotations

import contextlib
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.graphiql import graphiql_assets_available
from gateway.sandbox.data import generate
from tests.processes import free_port, stop

CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
START_TIMEOUT_S = 30.0
UI_TIMEOUT_MS = 30_000

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason="needs Debian's chromium"),
    pytest.mark.skipif(not graphiql_assets_available(), reason="GraphiQL assets not built"),
]


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    """`gateway serve --sandbox` in a child process: the GraphiQL URL."""
    port = free_port()
    output = tmp_path / "gateway.log"
    with output.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "gateway", "serve", "--sandbox", "--port", str(port)],
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the gateway did not start:\n{output.read_text()}")
            time.sleep(0.1)
        yield f"{base}/graphql"
    finally:
        stop(process)


def expected_figures() -> dict[str, int]:
    """The demo query's workspace totals and scenario count for aurora, by plain loops."""
    data = generate()  # the child's sandbox generates the same data (same seed and day)
    zylon = data.zylon_org("aurora")
    make = data.make_org("aurora")

    def total(daily: tuple[int, ...]) -> int:
        out = 0
        for value in daily:
            out += value
        return out

    scenarios = 0
    for _ in make.scenarios:
        scenarios += 1
    return {
        "projects": len(zylon.projects),
        "threads": total(zylon.threads.daily),
        "interactions": total(zylon.interactions.daily),
        "agentFlows": total(zylon.agent_flows.daily),
        "totalCount": scenarios,
    }


@contextlib.contextmanager
def browser_page(profile: Path) -> Iterator[Any]:
    """A page of headless Chromium with a fresh profile (GraphiQL starts from its defaults)."""
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch_persistent_context(
            str(profile),
            executable_path=str(CHROMIUM),
            headless=True,
            args=CHROMIUM_FLAGS,
            viewport={"width": 1400, "height": 2400},
        )
        try:
            yield browser.new_page()
        finally:
            browser.close()


def run_shown_query(page: Any, url: str, expect: str) -> str:
    """Opens `url`, checks the demo key is in the headers, runs the query shown, and
    returns the response pane's text once it holds `expect`."""
    page.goto(url)
    page.wait_for_selector(".graphiql-execute-button", timeout=UI_TIMEOUT_MS)
    headers = page.locator(".graphiql-editor-tool .graphiql-editor:not(.hidden)")
    shown = headers.inner_text(timeout=UI_TIMEOUT_MS).replace("\u00a0", " ")
    assert '"Authorization": "Bearer sandbox-demo-key"' in shown
    page.click(".graphiql-execute-button")
    page.wait_for_function(
        "(expect) => (document.querySelector('.graphiql-response')?.innerText ?? '')"
        ".includes(expect)",
        arg=expect,
        timeout=UI_TIMEOUT_MS,
    )
    text: str = page.inner_text(".graphiql-response").replace("\u00a0", " ")
    return text


def test_graphiql_runs_the_dashboard_in_chromium(served: str, tmp_path: Path) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / ".gitignore").write_text("*\n")
    with browser_page(tmp_path / "profile") as page:
        text = run_shown_query(page, served, "totalCount")
        page.screenshot(path=str(ARTIFACTS / "graphiql-dashboard.png"), full_page=True)

    assert not re.search(r'^ {2}"errors"', text, re.MULTILINE), text  # top-level errors
    assert '"name": "Aurora Labs"' in text
    for name, value in expected_figures().items():
        found = re.findall(rf'"{name}": (\d+)', text)
        assert found == [str(value)], (name, found, value)
    assert (ARTIFACTS / "graphiql-dashboard.png").stat().st_size > 0


def test_a_link_to_a_query_opens_on_that_query(served: str, tmp_path: Path) -> None:
    """`/graphql?query=...` opened in a browser: the page, showing the link's query."""
    link = httpx.URL(served, params={"query": "query Linked { organizations { name } }"})
    with browser_page(tmp_path / "profile") as page:
        text = run_shown_query(page, str(link), "Cygnus")  # Monaco shows spaces as nbsp
    assert "totalCount" not in text  # not the demo query
