"""The contract's input types and enums, and their translation to upstream terms."""

from __future__ import annotations

import enum
from typing import cast

import strawberry

from gateway.graph.scalars import DateTime
from gateway.upstreams.models import MakeSortBy, MakeSortDir, MakeStatus, ZylonSeriesType


@strawberry.input(
    description=(
        "A closed time interval. Fields that take one default to the last 30 days, aligned to "
        "whole minutes so that repeated queries share cache entries."
    )
)
class TimeRange:
    from_: DateTime = strawberry.field(name="from")
    to: DateTime


@strawberry.enum(name="Source")
class SourceEnum(enum.Enum):
    ZYLON = "ZYLON"
    MAKE = "MAKE"


@strawberry.enum
class ScenarioStatus(enum.Enum):
    ACTIVE = "active"
    INACTIVE = "inactive"
    INVALID = "invalid"

    @property
    def make(self) -> MakeStatus:
        value: MakeStatus = self.value
        return value


@strawberry.enum
class ScenarioOrderField(enum.Enum):
    NAME = "name"
    TEAM_NAME = "teamName"
    STATUS = "status"
    OPERATIONS = "operations"
    EXECUTIONS = "executions"
    ERRORS = "errors"
    ERROR_RATE = "errorRate"
    EXECUTIONS_CHANGE = "executionsChange"
    OPERATIONS_CHANGE = "operationsChange"
    ERRORS_CHANGE = "errorsChange"
    ERROR_RATE_CHANGE = "errorRateChange"

    @property
    def make(self) -> MakeSortBy:
        value: MakeSortBy = self.value
        return value


@strawberry.enum
class OrderDirection(enum.Enum):
    ASC = "asc"
    DESC = "desc"

    @property
    def make(self) -> MakeSortDir:
        value: MakeSortDir = self.value
        return value


@strawberry.input
class ScenarioFilter:
    team_ids: list[strawberry.ID] | None = None
    folder_ids: list[strawberry.ID] | None = None
    statuses: list[ScenarioStatus] | None = None


@strawberry.input
class ScenarioOrder:
    field: ScenarioOrderField = ScenarioOrderField.OPERATIONS
    direction: OrderDirection = OrderDirection.ASC


@strawberry.enum
class Metric(enum.Enum):
    INTERACTIONS = strawberry.enum_value(
        "interactions", description="Zylon timeseries type=interactions"
    )
    THREADS = strawberry.enum_value("threads", description="Zylon timeseries type=threads")
    AGENT_FLOWS = strawberry.enum_value(
        "agent_flows", description="Zylon timeseries type=agent_flows"
    )
    UPLOADED_ARTIFACTS = strawberry.enum_value(
        "uploaded_artifacts", description="Zylon timeseries type=uploaded_artifacts"
    )
    OPERATIONS = strawberry.enum_value(
        "operations", description="Make operations, one total per UTC day"
    )
    EXECUTIONS = strawberry.enum_value(
        "executions", description="Make executions, one total per UTC day"
    )
    ERRORS = strawberry.enum_value("errors", description="Make errors, one total per UTC day")
    CENTICREDITS = strawberry.enum_value(
        "centicredits", description="Make centicredits, one total per UTC day"
    )

    @property
    def source(self) -> SourceEnum:
        zylon = {"interactions", "threads", "agent_flows", "uploaded_artifacts"}
        return SourceEnum.ZYLON if str(self.value) in zylon else SourceEnum.MAKE

    @property
    def zylon_type(self) -> ZylonSeriesType:
        return cast("ZylonSeriesType", self.value)
