"""Before measuring: do ours and the peer answer the dashboard with the same data?

One dashboard for the same range from each, reduced to comparable figures.
"""

from __future__ import annotations

from typing import Any

import httpx
from workloads import Spec, Workload, answer


def _ours(data: dict[str, Any]) -> dict[str, Any]:
    org = data["organization"]
    workspace, automation = org["usage"]["workspace"], org["usage"]["automation"]
    return {
        "workspace": [
            workspace[k]
            for k in ("projects", "threads", "interactions", "agentFlows", "uploadedArtifacts")
        ],
        "automation": [int(automation[k]) for k in ("executions", "operations", "errors")]
        + [int(float(automation["centicredits"]))],
        "users": [(e["user"]["id"], e["interactionsCreated"]) for e in org["activeUsers"]],
        "projects": [(e["project"]["id"], e["interactionsCreated"]) for e in org["activeProjects"]],
        "series": [(p["date"], float(p["value"])) for p in org["interactions"]["points"]],
        "scenarios": [str(e["node"]["id"]) for e in org["scenarios"]["edges"]],
        "scenario count": org["scenarios"]["totalCount"],
    }


def _peer(data: dict[str, Any]) -> dict[str, Any]:
    totals, make = data["totals"], data["scenarios"]
    return {
        "workspace": [
            totals[k]
            for k in (
                "projects_total",
                "threads_total",
                "interactions_total",
                "agent_flows_total",
                "uploaded_artifacts_total",
            )
        ],
        "automation": [int(make["total"][k]) for k in ("executions", "operations", "errors")]
        + [int(float(make["total"]["centicredits"]))],
        "users": [(e["user"]["id"], e["interactions_created"]) for e in data["activeUsers"]],
        "projects": [
            (e["project"]["id"], e["interactions_created"]) for e in data["activeProjects"]
        ],
        "series": [(p["date"], float(p["value"])) for p in data["interactions"]],
        "scenarios": [str(int(s["id"])) for s in make["analytics"]],
        "scenario count": make["pg"]["totalCount"],
    }


def _dashboard(url: str, headers: dict[str, str], spec: Spec) -> dict[str, Any]:
    body = Workload(spec).dashboard_body(spec.warm_index)
    with httpx.Client(timeout=60.0) as client:
        response = client.post(
            url, content=body, headers={**headers, "Content-Type": "application/json"}
        )
    return answer(response.status_code, response.content)


def differences(
    ours: tuple[str, dict[str, str], Spec], peer: tuple[str, dict[str, str], Spec]
) -> list[str]:
    """What differs between the two answers (empty: the same data)."""
    mine = _ours(_dashboard(*ours))
    theirs = _peer(_dashboard(*peer))
    return [
        f"{name}: ours {mine[name]!r:.200} / peer {theirs[name]!r:.200}"
        for name in mine
        if mine[name] != theirs[name]
    ]
