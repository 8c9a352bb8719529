"""The second subgraph of the tests' supergraph: an accounts service that owns plans and billing.

It knows users and organizations by id only (the ids come from the sandbox's data) and
adds the fields the analytics gateway does not have; the router joins the two.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import strawberry
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.schema.config import StrawberryConfig


@dataclass(frozen=True)
class Accounts:
    plans: dict[str, str] = field(default_factory=dict)  # user id -> plan, in listing order
    billing: dict[str, str] = field(default_factory=dict)  # organization id -> billing email
    # The Authorization header of each request the router sent here: never the
    # analytics API key, which is for the analytics subgraph alone.
    authorizations: list[str | None] = field(default_factory=list)


AccountsInfo = strawberry.Info[Accounts, Any]


@strawberry.federation.type(keys=["id"])
class User:
    id: strawberry.ID
    plan: str | None

    @classmethod
    def resolve_reference(cls, info: AccountsInfo, id: strawberry.ID) -> User:
        return cls(id=id, plan=info.context.plans.get(str(id)))


@strawberry.federation.type(keys=["id"])
class Organization:
    id: strawberry.ID
    billing_email: str | None

    @classmethod
    def resolve_reference(cls, info: AccountsInfo, id: strawberry.ID) -> Organization:
        return cls(id=id, billing_email=info.context.billing.get(str(id)))


@strawberry.type
class Query:
    """Lists are of nullable items: an entity another subgraph refuses nulls only itself."""

    @strawberry.field
    def account_users(self, info: AccountsInfo) -> list[User | None]:
        return [User(id=strawberry.ID(i), plan=p) for i, p in info.context.plans.items()]

    @strawberry.field
    def account_organizations(self, info: AccountsInfo) -> list[Organization | None]:
        billing = info.context.billing.items()
        return [Organization(id=strawberry.ID(i), billing_email=e) for i, e in billing]


def accounts_schema() -> strawberry.federation.Schema:
    return strawberry.federation.Schema(
        query=Query,
        config=StrawberryConfig(auto_camel_case=True),
        federation_version="2.9",  # the newest the Guild's composer knows
    )


class _AccountsView(GraphQL[Accounts, None]):
    def __init__(self, accounts: Accounts) -> None:
        super().__init__(accounts_schema(), graphql_ide=None)
        self._accounts = accounts

    async def get_context(
        self, request: Request | WebSocket, response: Response | WebSocket
    ) -> Accounts:
        self._accounts.authorizations.append(request.headers.get("authorization"))
        return self._accounts


def accounts_app(accounts: Accounts) -> Starlette:
    """The accounts subgraph at POST /graphql (no authentication: it is a test double)."""
    return Starlette(routes=[Route("/graphql", _AccountsView(accounts), methods=["POST"])])
