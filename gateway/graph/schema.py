"""Builds the served schema: a Federation v2 subgraph that plain clients read as a normal graph."""

from __future__ import annotations

from collections.abc import Sequence

import strawberry
from strawberry.extensions import SchemaExtension
from strawberry.schema.config import StrawberryConfig

from gateway.graph.error_codes import ErrorCodes
from gateway.graph.organization import Query
from gateway.graph.precheck import ArgumentCheck
from gateway.graph.projects import Project
from gateway.graph.scalars import SCALARS
from gateway.graph.scenarios import Scenario
from gateway.graph.teams import Team
from gateway.graph.users import User


def build_schema(
    extensions: Sequence[type[SchemaExtension]] = (),
) -> strawberry.federation.Schema:
    return strawberry.federation.Schema(
        query=Query,
        types=[User, Project, Team, Scenario],
        extensions=[ErrorCodes, ArgumentCheck, *extensions],
        config=StrawberryConfig(auto_camel_case=True, scalar_map=SCALARS),
    )
