"""The benchmark harness works end to end at a tiny size (no figure is checked: no timing)."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path
from typing import Any

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
    # The floor (bench/floor.py) answers cold dashboards, and only those.
    floor_runs = re.findall(r"\| (\w+) \| (\w+) \| 0 ms \| 4 \| floor \|", out)
    assert set(floor_runs) == {("dashboard", "cold")}
    text = output.read_text()
    assert text.startswith("# Benchmark results")
    assert "Command: `.venv/bin/python bench/run.py --quick --duration 1 --output" in text


def _bench_report(monkeypatch: pytest.MonkeyPatch) -> Any:
    """bench/report.py, loaded from its file (bench/ is scripts, not a package)."""
    spec = importlib.util.spec_from_file_location("bench_report", BENCH / "report.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, module)  # dataclasses looks it up there
    spec.loader.exec_module(module)
    return module


def test_the_floor_table_sets_each_server_against_the_floor_of_its_cell(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    report = _bench_report(monkeypatch)

    def row(target: str, p50: float, p99: float, concurrency: int = 16) -> Any:
        result = {"latency_ms": {"p50": p50, "p99": p99}, "rps": 1.0, "requests": 1, "units": 1}
        return report.Row("dashboard", "cold", 50, concurrency, target, result, 3, 0.0, [], 0.0)

    rows = [
        row("ours-1w", 58.0, 90.0),
        row("floor", 53.0, 70.0),
        row("peer", 60.0, 95.0),
        row("ours-1w", 150.0, 250.0, concurrency=64),  # no floor in its cell: left out
    ]
    lines = report.floor_table(rows)
    assert lines[2:] == [
        "| dashboard | 50 ms | 16 | ours-1w | 8.0 / 40.0 | 5.0 / 20.0 |",
        "| dashboard | 50 ms | 16 | floor | 3.0 / 20.0 | 0.0 / 0.0 |",
        "| dashboard | 50 ms | 16 | peer | 10.0 / 45.0 | 7.0 / 25.0 |",
    ]
    assert all("floor" not in line for line in report.ratio_table(rows))


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
    # Cold: no dashboard found another's figures in a cache; each makes the three upstream
    # requests of a cold dashboard in bench/RESULTS.md.
    calls = re.search(r"upstream requests per dashboard: (\d+\.\d+)", out)
    assert calls is not None
    assert float(calls.group(1)) >= 3.0
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


def test_the_turns_probe_counts_both_phases_of_a_cold_dashboard() -> None:
    out = run_probe("hops.py", "--requests", "3")
    found = re.search(
        r"cold dashboards: 3, one at a time; loop turns \(median, min-max\): "
        r"(\d+) \(\d+-\d+\) before the first upstream call, (\d+) \(\d+-\d+\) after",
        out,
    )
    assert found, out[-2000:]
    # Each phase waits on the loop at least once: a task for the loaders' batch, and one
    # for the answer to reach the resolvers.
    assert int(found[1]) >= 1
    assert int(found[2]) >= 1
    assert "command: .venv/bin/python bench/hops.py --requests 3" in out


def test_the_loop_model_gives_first_come_first_served_the_shortest_tail() -> None:
    out = run_probe("loop_model.py", "--turns", "1", "20")
    p99 = [float(v) for v in re.findall(r"pieces a phase: p50 +[\d.]+ ms, p99 +([\d.]+) ms", out)]
    assert len(p99) == 2, out
    assert p99[0] < p99[1]
    assert "command: .venv/bin/python bench/loop_model.py --turns 1 20" in out


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
