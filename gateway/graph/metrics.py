"""Headline figures: Zylon's all-time totals and Make's automation metrics."""

from __future__ import annotations

import strawberry

from gateway.graph.scalars import BigInt
from gateway.upstreams.models import MakeMetrics, ZylonTotals


@strawberry.type(
    description=(
        "Zylon's all-time totals for the workspace: counts since it began, not over any range."
    )
)
class WorkspaceTotals:
    projects: int = strawberry.field(description="Projects, all-time total (a count).")
    threads: int = strawberry.field(description="Threads, all-time total (a count).")
    interactions: int = strawberry.field(description="Interactions, all-time total (a count).")
    agent_flows: int = strawberry.field(description="Agent flows, all-time total (a count).")
    uploaded_artifacts: int = strawberry.field(
        description="Uploaded artifacts, all-time total (a count)."
    )

    @classmethod
    def of(cls, totals: ZylonTotals) -> WorkspaceTotals:
        return cls(
            projects=totals.projects,
            threads=totals.threads,
            interactions=totals.interactions,
            agent_flows=totals.agent_flows,
            uploaded_artifacts=totals.uploaded_artifacts,
        )


def _change(figure: str) -> str:
    return (
        f"Percent change of `{figure}` against the same number of UTC days just before the "
        "range: (current - earlier) / earlier * 100. Null when the earlier value is 0; "
        "-100 when the current is 0."
    )


@strawberry.type(
    description=(
        "Make figures over a range's whole UTC days: counts, credits, error rate, and each "
        "one's percent change against the same number of days just before the range."
    )
)
class AutomationMetrics:
    executions: int = strawberry.field(
        description="Scenario executions (runs) over the range (a count)."
    )
    operations: int = strawberry.field(description="Operations over the range (a count).")
    centicredits: BigInt = strawberry.field(
        description=(
            "Credits used over the range, in hundredths of a Make credit (divide by 100 for "
            "credits); a BigInt string, as it may exceed 2^53."
        )
    )
    errors: int = strawberry.field(description="Errors over the range (a count).")
    error_rate: float | None = strawberry.field(
        description=(
            "Percentage; null when it can't be calculated, that is when executions is 0: "
            "errors / executions * 100 over the range (2.5 means 2.5 %)."
        )
    )
    executions_change: float | None = strawberry.field(description=_change("executions"))
    operations_change: float | None = strawberry.field(description=_change("operations"))
    centicredits_change: float | None = strawberry.field(description=_change("centicredits"))
    errors_change: float | None = strawberry.field(description=_change("errors"))
    error_rate_change: float | None = strawberry.field(
        description=(
            "Relative percent change of `errorRate` (not percentage points) against the same "
            "number of UTC days just before the range: (rate - earlier rate) / earlier rate * "
            "100. Null when either rate is null or the earlier rate is 0; -100 when the current "
            "rate is 0."
        )
    )

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
