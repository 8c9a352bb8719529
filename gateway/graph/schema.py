"""Builds the served schema: a Federation v2 subgraph that plain clients read as a normal graph."""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence

import strawberry
from graphql import GraphQLError
from strawberry.extensions import SchemaExtension
from strawberry.federation.schema import FederationAny
from strawberry.schema.config import StrawberryConfig
from strawberry.schema.name_converter import NameConverter
from strawberry.types.execution import ExecutionContext

from gateway.config import GraphQLSettings, LimitsSettings, Settings
from gateway.engine.document_cache import CachedParse, CachedValidation, DocumentCache
from gateway.engine.execution import ShortPathExecutor
from gateway.engine.hooks import PlannedHooks
from gateway.engine.plans import plan_short_paths
from gateway.engine.resolvers import lean_resolvers
from gateway.errors import BadUserInput
from gateway.graph.cache_notes import CacheNotesExtension
from gateway.graph.context import Info
from gateway.graph.entities import representation
from gateway.graph.error_codes import ErrorCodes
from gateway.graph.limits import MeasureCache, OperationLimits
from gateway.graph.organization import Organization, Query
from gateway.graph.precheck import ArgumentCheck
from gateway.graph.projects import Project
from gateway.graph.scalars import SCALARS
from gateway.graph.scenarios import Scenario
from gateway.graph.teams import Team
from gateway.graph.users import User

log = logging.getLogger("gateway.graphql")

ENTITIES = frozenset(t.__name__ for t in (Organization, User, Project, Team, Scenario))


class CachedNames(NameConverter):
    """Strawberry's name converter, remembering its answers: it converts each
    argument's Python name to camelCase again on every resolver call."""

    def __init__(self) -> None:
        super().__init__(auto_camel_case=True)
        self._names: dict[str, str] = {}  # the schema's own names: a bounded set

    def apply_naming_config(self, name: str) -> str:
        converted = self._names.get(name)
        if converted is None:
            converted = self._names[name] = super().apply_naming_config(name)
        return converted


class Subgraph(PlannedHooks, strawberry.federation.Schema):
    """The federation schema, with each `_entities` representation checked before its lookup."""

    def entities_resolver(
        self, info: Info, representations: list[FederationAny]
    ) -> list[FederationAny]:
        checked: list[dict[str, str] | BadUserInput] = []
        for index, value in enumerate(representations):
            try:
                checked.append(representation(value, index, ENTITIES))
            except BadUserInput as exc:
                checked.append(exc)
        valid = [FederationAny(c) for c in checked if not isinstance(c, BadUserInput)]
        found = iter(super().entities_resolver(info, valid))
        # graphql-core raises an exception item as that item's error.
        return [FederationAny(c) if isinstance(c, BadUserInput) else next(found) for c in checked]

    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        """Expected errors (codes a caller acts on) are not log-worthy; ErrorCodes already
        logged the unexpected ones with their traceback."""
        for error in errors:
            # Read before ErrorCodes gives every error its code: a gateway error has its own.
            code = (error.extensions or {}).get("code") or getattr(
                error.original_error, "code", None
            )
            log.debug("graphql error %s at %s", code, error.path)


def build_schema(
    settings: Settings | None = None,
    extensions: Sequence[type[SchemaExtension]] = (),
) -> strawberry.federation.Schema:
    limit_settings = settings.limits if settings else LimitsSettings()
    limits = functools.partial(
        OperationLimits,
        limits=limit_settings,
        graphql=settings.graphql if settings else GraphQLSettings(),
        measures=MeasureCache(limit_settings),
    )
    documents = DocumentCache()
    schema = Subgraph(
        query=Query,
        types=[User, Project, Team, Scenario],
        extensions=[
            ErrorCodes,
            limits,
            functools.partial(CachedParse, documents=documents),
            functools.partial(CachedValidation, documents=documents),
            functools.partial(ArgumentCheck, documents=documents),
            CacheNotesExtension,
            *extensions,
        ],
        config=StrawberryConfig(
            auto_camel_case=True, name_converter=CachedNames(), scalar_map=SCALARS
        ),
        execution_context_class=ShortPathExecutor,
        # The oldest that has all it uses (`@key`): composers refuse versions newer
        # than they know, and the Guild's (Hive Gateway, Mesh compose) stops at 2.9.
        federation_version="2.0",
    )
    plan_short_paths(schema._schema)
    lean_resolvers(schema)
    return schema
