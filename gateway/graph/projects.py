"""Zylon projects and their line of the active-projects ranking."""

from __future__ import annotations

from typing import Annotated, Self

import strawberry

from gateway.graph.arguments import time_range
from gateway.graph.context import Info
from gateway.graph.entities import find_project
from gateway.graph.inputs import ZYLON_RANGE, TimeRange
from gateway.graph.scalars import DateTime
from gateway.ranges import zylon_window
from gateway.upstreams.models import ProjectRankingEntry, ZylonProject


@strawberry.federation.type(
    keys=["id"],
    description=(
        "A Zylon project, as Zylon's active-projects ranking describes it. A federation entity "
        "keyed by `id`."
    ),
)
class Project:
    id: strawberry.ID = strawberry.field(
        description="Zylon project id, e.g. `proj_7a5c3e1b9d2f4a6c`; the entity's key."
    )
    name: str = strawberry.field(description="Project name.")
    goal: str | None = strawberry.field(description="The project's goal; null when none is set.")
    deadline: DateTime | None = strawberry.field(
        description="The project's deadline; null when none is set."
    )
    visibility: str = strawberry.field(
        description="Visibility as Zylon reports it, e.g. `Private`."
    )
    member_count: int = strawberry.field(
        description="Members of the project (a count), as Zylon reports it now, not over a range."
    )
    default_member_role: str | None = strawberry.field(
        description="Role a new member gets by default, e.g. `Editor`; null when none is set."
    )
    default_role_enabled: bool = strawberry.field(
        description="Whether the default member role is enabled."
    )
    project_context: str | None = strawberry.field(
        description="The project's context text, as set in Zylon; null when none is set."
    )
    answer_context: str | None = strawberry.field(
        description="The project's answer context text, as set in Zylon; null when none is set."
    )
    is_pinned: bool = strawberry.field(description="Whether the project is pinned in Zylon.")
    organization: strawberry.Private[str]

    @classmethod
    def of(cls, p: ZylonProject, organization: str) -> Self:
        return cls(
            id=strawberry.ID(p.id),
            name=p.name,
            goal=p.goal,
            deadline=DateTime(p.deadline) if p.deadline is not None else None,
            visibility=p.visibility,
            member_count=p.member_count,
            default_member_role=p.default_member_role,
            default_role_enabled=p.default_role_enabled,
            project_context=p.project_context,
            answer_context=p.answer_context,
            is_pinned=p.is_pinned,
            organization=organization,
        )

    @strawberry.field(
        description=(
            "This project's line of the active-projects ranking over the range; null when it "
            "had no activity in it, null with a NOT_RANKED error when it is not among the "
            "100 most active of that range (the most a Zylon ranking holds)."
        )
    )
    async def activity(
        self,
        info: Info,
        range: Annotated[TimeRange | None, strawberry.argument(description=ZYLON_RANGE)] = None,
    ) -> ProjectActivity | None:
        window = zylon_window(time_range(info.context, range))
        loaders = info.context.loaders.zylon
        entry = await loaders.activity(self.organization, "projects", window, self.id)
        assert entry is None or isinstance(entry, ProjectRankingEntry)
        return None if entry is None else ProjectActivity.of(entry, self.organization)

    @classmethod
    async def resolve_reference(cls, info: Info, id: strawberry.ID) -> Self:
        project, organization = await find_project(info, str(id))
        return cls.of(project, organization)


@strawberry.type(
    description=(
        "One line of Zylon's active-projects ranking: a project and what was created in it over "
        "the range."
    )
)
class ProjectActivity:
    project: Project = strawberry.field(description="The ranked project.")
    interactions_created: int = strawberry.field(
        description=(
            "Interactions created in the project over the range (a count); the ranking sorts by "
            "it, descending."
        )
    )
    agent_flows_created: int = strawberry.field(
        description="Agent flows created in the project over the range (a count)."
    )

    @classmethod
    def of(cls, entry: ProjectRankingEntry, organization: str) -> ProjectActivity:
        return cls(
            project=Project.of(entry.project, organization),
            interactions_created=entry.interactions_created,
            agent_flows_created=entry.agent_flows_created,
        )
