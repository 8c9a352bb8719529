"""The benchmark harness works end to end at a tiny size (no figure is checked: no timing)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest

from tests.processes import run_to_end

ROOT = Path(__file__).resolve().parents[1]
BENCH = ROOT / "bench"
CONTRACT_OPERATIONS = ROOT.parent / "shared" / "contract" / "operations"
TIMEOUT_S = 300


def test_the_quick_benchmark_runs_and_prints_its_table(tmp_path: Path) -> None:
    output = tmp_path / "results.md"
    command = [sys.executable, str(BENCH / "run.py"), "--quick", "--duration", "1"]
    command += ["--output", str(output)]
    returncode, out = run_to_end(command, cwd=ROOT, timeout_s=TIMEOUT_S)
    assert returncode == 0, out[-4000:]
    assert "| operation | mode | upstream | conc | target | req/s | p50 ms | p99 ms |" in out
    for operation in ("dashboard", "walk", "entities"):
        for mode in ("cold", "warm"):
            assert f"| {operation} | {mode} | 0 ms |" in out
    text = output.read_text()
    assert text.startswith("# Benchmark results")
    assert "Command: `.venv/bin/python bench/run.py --quick --duration 1 --output" in text


def run_probe(script: str, *args: str) -> str:
    """What a bench/ probe printed, once it ran to a clean end."""
    command = [sys.executable, str(BENCH / script), *args]
    returncode, out = run_to_end(command, cwd=ROOT, timeout_s=TIMEOUT_S)
    assert returncode == 0, out[-4000:]
    return out


def test_the_cpu_probe_runs_and_prints_its_figures(tmp_path: Path) -> None:
    stacks = tmp_path / "stacks.txt"
    out = run_probe("cpu.py", "--requests", "40", "--concurrency", "2", "--sample", str(stacks))
    assert "cold dashboards: 40 at concurrency 2, gc serve, own pool:" in out
    assert "ms CPU per request, of which" in out
    assert re.search(r"collections by generation: gen 0: \d+ in \d+ ms, gen 1: ", out)
    assert f"CPU samples written to {stacks}" in out
    assert "command: .venv/bin/python bench/cpu.py --requests 40 --concurrency 2 --sample" in out
    # Forty dashboards take about 0.2 s of CPU: dozens of samples (the kernel's clock
    # ticks), in the collapsed-stack format, the gateway's frames among them.
    lines = stacks.read_text().splitlines()
    assert lines
    assert all(line.rsplit(" ", 1)[1].isdigit() for line in lines)
    assert any("(gateway/" in line for line in lines)


def test_the_cpu_probe_walks_every_scenario_page() -> None:
    out = run_probe("cpu.py", "--operation", "walk", "--requests", "1", "--concurrency", "1")
    # The sandbox's aurora has 130 scenarios: 13 pages of 10, each asked with a cursor
    # but the first; a cursor the gateway refused would have ended the run.
    assert "cold walks (13 pages): 1 at concurrency 1, gc serve, own pool:" in out


def test_the_instruction_probe_runs_and_prints_its_figure() -> None:
    # Two short bench/cpu.py runs under callgrind, side by side: about a minute.
    out = run_probe("instructions.py", "--requests", "2", "--baseline", "1")
    assert "cold dashboards:" in out
    assert "M instructions each" in out
    assert "command: .venv/bin/python bench/instructions.py --requests 2 --baseline 1" in out


def test_the_execution_floor_probe_runs_and_prints_its_figure() -> None:
    out = run_probe("execution_floor.py", "--runs", "3")
    # Each way is checked to give back the gateway's own answer before it is timed.
    assert "alone, a dashboard's" in out
    assert "compiled once into a plan" in out
    assert out.count("us CPU per execution (3 runs)") == 2
    assert "command: .venv/bin/python bench/execution_floor.py --runs 3" in out


def test_the_upstream_http_probe_runs_and_prints_its_figures() -> None:
    out = run_probe("upstream_http.py", "--requests", "8", "--concurrency", "2")
    clients = [
        "httpx (httpcore pool)",
        "httpx on the gateway's transport",
        "the gateway's UpstreamHTTP",
        "aiohttp alone",
    ]
    for client in clients:
        assert client in out
    assert out.count("us CPU per request") == len(clients)


@pytest.mark.parametrize("name", ["dashboard.graphql", "entities.graphql"])
def test_the_bench_sends_the_contract_operations(name: str) -> None:
    contract = CONTRACT_OPERATIONS / name
    if not contract.exists():
        pytest.skip("the contract's operations are not beside this checkout")
    assert (BENCH / "queries" / name).read_text() == contract.read_text()


def test_the_bench_walk_is_the_contract_page_with_a_range() -> None:
    contract = CONTRACT_OPERATIONS / "scenario-page.graphql"
    if not contract.exists():
        pytest.skip("the contract's operations are not beside this checkout")
    ours = (BENCH / "queries" / "scenario-page.graphql").read_text()
    canonical = [line for line in contract.read_text().splitlines() if not line.startswith("#")]
    expected = "\n".join(canonical)
    expected = expected.replace(
        "$filter: ScenarioFilter)", "$filter: ScenarioFilter, $range: TimeRange)"
    )
    expected = expected.replace("scenarios(first:", "scenarios(range: $range, first:")
    assert "\n".join(line for line in ours.splitlines() if not line.startswith("#")) == expected
