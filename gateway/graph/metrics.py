"""Headline figures: Zylon's all-time totals and Make's automation metrics."""

from __future__ import annotations

import strawberry

from gateway.graph.scalars import BigInt
from gateway.upstreams.models import MakeMetrics, ZylonTotals


@strawberry.type
class WorkspaceTotals:
    projects: int
    threads: int
    interactions: int
    agent_flows: int
    uploaded_artifacts: int

    @classmethod
    def of(cls, totals: ZylonTotals) -> WorkspaceTotals:
        return cls(
            projects=totals.projects,
            threads=totals.threads,
            interactions=totals.interactions,
            agent_flows=totals.agent_flows,
            uploaded_artifacts=totals.uploaded_artifacts,
        )


@strawberry.type
class AutomationMetrics:
    executions: int
    operations: int
    centicredits: BigInt
    errors: int
    error_rate: float | None = strawberry.field(
        description="Percentage; null when it can't be calculated."
    )
    executions_change: float | None
    operations_change: float | None
    centicredits_change: float | None
    errors_change: float | None
    error_rate_change: float | None

    @classmethod
    def of(cls, m: MakeMetrics) -> AutomationMetrics:
        return cls(
            executions=m.executions,
            operations=m.operations,
            centicredits=BigInt(m.centicredits),
            errors=m.errors,
            error_rate=m.error_rate,
            executions_change=m.executions_change,
            operations_change=m.operations_change,
            centicredits_change=m.centicredits_change,
            errors_change=m.errors_change,
            error_rate_change=m.error_rate_change,
        )


# What a failed or empty connection reports as its totals.
ZERO = MakeMetrics(executions=0, operations=0, centicredits=0, errors=0)

CHANGE_FIELDS = frozenset(
    {
        "executionsChange",
        "operationsChange",
        "centicreditsChange",
        "errorsChange",
        "errorRateChange",
    }
)
