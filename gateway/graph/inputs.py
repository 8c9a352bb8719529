"""The contract's input types and enums, and their translation to upstream terms."""

from __future__ import annotations

import enum
from typing import TypeVar, cast

import strawberry

from gateway.graph.scalars import DateTime
from gateway.upstreams.models import MakeSortBy, MakeSortDir, MakeStatus, ZylonSeriesType

T = TypeVar("T")


def described(value: T, description: str) -> T:
    """An enum member's value with its GraphQL description: `strawberry.enum_value`, typed
    as the value itself, so that `.value` keeps its type for mypy (Strawberry unwraps it)."""
    return cast("T", strawberry.enum_value(value, description=description))


# What a Zylon field's `range` argument means (Zylon keeps its history; Make fields
# say their own, as Make keeps one year).
ZYLON_RANGE = (
    "The days to count, as whole UTC days; the last 30 days (31 UTC days) when omitted. "
    "At most `limits.max_range_days` (366 by default) UTC days."
)


@strawberry.input(
    description=(
        "A closed time interval. Fields that take one default to the last 30 days, aligned to "
        "whole minutes so that repeated queries share cache entries. Every UTC day the range "
        "touches counts whole, both ends included (one hour across midnight counts two days), "
        "and an offset does not make local days; days in the future count as zero."
    )
)
class TimeRange:
    from_: DateTime = strawberry.field(
        name="from",
        description=(
            "Start, inclusive: its whole UTC day counts. Must not be after `to`; for Make "
            "figures at most 365 days ago."
        ),
    )
    to: DateTime = strawberry.field(
        description="End, inclusive: its whole UTC day counts. It may be in the future."
    )


@strawberry.enum(name="Source", description="The upstream a figure comes from.")
class SourceEnum(enum.Enum):
    ZYLON = described("ZYLON", "Zylon workspace analytics: projects, threads, users.")
    MAKE = described("MAKE", "Make scenario analytics: teams, scenarios, operations, credits.")


@strawberry.enum(description="A Make scenario's status, as Make reports it when read.")
class ScenarioStatus(enum.Enum):
    ACTIVE = described("active", "Enabled (switched on).")
    INACTIVE = described("inactive", "Disabled (switched off).")
    INVALID = described("invalid", "Disabled due to errors.")

    @property
    def make(self) -> MakeStatus:
        return cast("MakeStatus", self.value)


@strawberry.enum(
    description=(
        "What scenarios are sorted by. Figures are over the connection's range; ties are "
        "broken by scenario id in the same direction."
    )
)
class ScenarioOrderField(enum.Enum):
    NAME = described("name", "Scenario name, by Unicode code point (`Z` before `a`).")
    TEAM_NAME = described("teamName", "The owning team's name, by Unicode code point.")
    STATUS = described(
        "status",
        "Status, ascending ACTIVE, INACTIVE, INVALID (Make's lowercase names).",
    )
    OPERATIONS = described("operations", "`metrics.operations` over the range (the default order).")
    EXECUTIONS = described("executions", "`metrics.executions` over the range.")
    ERRORS = described("errors", "`metrics.errors` over the range.")
    ERROR_RATE = described(
        "errorRate",
        "`metrics.errorRate` over the range; a null rate sorts below every number.",
    )
    EXECUTIONS_CHANGE = described(
        "executionsChange",
        "`metrics.executionsChange` over the range; null sorts below every number.",
    )
    OPERATIONS_CHANGE = described(
        "operationsChange",
        "`metrics.operationsChange` over the range; null sorts below every number.",
    )
    ERRORS_CHANGE = described(
        "errorsChange",
        "`metrics.errorsChange` over the range; null sorts below every number.",
    )
    ERROR_RATE_CHANGE = described(
        "errorRateChange",
        "`metrics.errorRateChange` over the range; null sorts below every number.",
    )

    @property
    def make(self) -> MakeSortBy:
        return cast("MakeSortBy", self.value)


@strawberry.enum(description="A sort direction.")
class OrderDirection(enum.Enum):
    ASC = described("asc", "Ascending: smallest first; null figures come first.")
    DESC = described("desc", "Descending: largest first; null figures come last (ASC reversed).")

    @property
    def make(self) -> MakeSortDir:
        return cast("MakeSortDir", self.value)


@strawberry.input(
    description=(
        "Which scenarios to include. Conditions combine with AND, the values of one list "
        "with OR; an omitted or empty list does not filter."
    )
)
class ScenarioFilter:
    team_ids: list[strawberry.ID] | None = strawberry.field(
        default=None,
        description=(
            "Only scenarios owned by these Make teams (numeric ids), at most 100. An id no "
            "team has matches nothing: totalCount 0, no error."
        ),
    )
    folder_ids: list[strawberry.ID] | None = strawberry.field(
        default=None,
        description="Only scenarios in these Make folders (numeric ids), at most 100.",
    )
    statuses: list[ScenarioStatus] | None = strawberry.field(
        default=None, description="Only scenarios with one of these statuses."
    )


@strawberry.input(
    description=(
        "How scenarios are sorted; OPERATIONS ASC when omitted. Ties, nulls among "
        "themselves included, are broken by scenario id in the same direction."
    )
)
class ScenarioOrder:
    field: ScenarioOrderField = strawberry.field(
        default=ScenarioOrderField.OPERATIONS,
        description=(
            "The figure or text to sort by, over the connection's range; default OPERATIONS."
        ),
    )
    direction: OrderDirection = strawberry.field(
        default=OrderDirection.ASC,
        description=(
            "ASC (default) or DESC. A null figure (e.g. errorRate with no executions) sorts "
            "below every number: first in ASC, last in DESC."
        ),
    )


@strawberry.enum(
    description="What a daily series counts, and from which source; one total per UTC day."
)
class Metric(enum.Enum):
    INTERACTIONS = strawberry.enum_value(
        "interactions",
        description="Zylon timeseries type=interactions: interactions per UTC day (a count).",
    )
    THREADS = strawberry.enum_value(
        "threads", description="Zylon timeseries type=threads: threads per UTC day (a count)."
    )
    AGENT_FLOWS = strawberry.enum_value(
        "agent_flows",
        description="Zylon timeseries type=agent_flows: agent flows per UTC day (a count).",
    )
    UPLOADED_ARTIFACTS = strawberry.enum_value(
        "uploaded_artifacts",
        description=(
            "Zylon timeseries type=uploaded_artifacts: uploaded artifacts per UTC day (a count)."
        ),
    )
    OPERATIONS = strawberry.enum_value(
        "operations", description="Make operations, one total per UTC day (a count)."
    )
    EXECUTIONS = strawberry.enum_value(
        "executions",
        description="Make executions (scenario runs), one total per UTC day (a count).",
    )
    ERRORS = strawberry.enum_value(
        "errors", description="Make errors, one total per UTC day (a count)."
    )
    CENTICREDITS = strawberry.enum_value(
        "centicredits",
        description=(
            "Make centicredits, one total per UTC day: hundredths of a Make credit "
            "(divide by 100 for credits)."
        ),
    )

    @property
    def source(self) -> SourceEnum:
        zylon = {"interactions", "threads", "agent_flows", "uploaded_artifacts"}
        return SourceEnum.ZYLON if str(self.value) in zylon else SourceEnum.MAKE

    @property
    def zylon_type(self) -> ZylonSeriesType:
        return cast("ZylonSeriesType", self.value)
