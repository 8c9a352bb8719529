"""Schema extension hooks entered without Strawberry's set-up on every request.

For each stage of every request (operation, parsing, validation, execution),
Strawberry's runner asks each extension whether its class overrides the stage's
hook and wraps each hook it finds in a new `contextlib.contextmanager`, with
`functools.update_wrapper`: seven extensions and eight hooks here, 1.6% of a
cold dashboard's instructions (bench/instructions.py). The answer depends on the
class alone, so `HookPlans` works it out once per class and stage. Each request
still gets its own extension instances, and enters and leaves their hooks in the
same order, on the same kind of exit stack, as Strawberry's
`ExtensionContextManagerBase`.
"""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import AsyncIterator, Callable, Iterator
from types import TracebackType
from typing import Any

from strawberry.extensions import SchemaExtension
from strawberry.extensions.runner import SchemaExtensionsRunner
from strawberry.types import ExecutionContext

# A hook made a context manager: called with the extension it belongs to.
Enter = Callable[[SchemaExtension], Any]
Hook = tuple[Enter, bool]  # (its context manager, whether that one is async)
Entry = tuple[Enter, SchemaExtension, bool]  # a hook of one request's extension


def _plan(hook_fn: Callable[..., Any]) -> Hook:
    """Strawberry's `ExtensionContextManagerBase.get_hook`, once per class."""
    if inspect.isgeneratorfunction(hook_fn):
        return contextlib.contextmanager(hook_fn), False
    if inspect.isasyncgenfunction(hook_fn):
        return contextlib.asynccontextmanager(hook_fn), True
    if inspect.iscoroutinefunction(hook_fn):

        @contextlib.asynccontextmanager
        async def awaited(extension: SchemaExtension) -> AsyncIterator[None]:
            await hook_fn(extension)
            yield

        return awaited, True
    if callable(hook_fn):

        @contextlib.contextmanager
        def called(extension: SchemaExtension) -> Iterator[None]:
            hook_fn(extension)
            yield

        return called, False
    raise ValueError(f"Hook {hook_fn!r} must be callable")


class HookPlans:
    """Which hook each extension class runs at each stage, as a context manager."""

    def __init__(self) -> None:
        self._plans: dict[tuple[type[SchemaExtension], str], Hook | None] = {}

    def hooks(self, extensions: list[SchemaExtension], stage: str) -> list[Entry]:
        plans = self._plans
        found: list[Entry] = []
        for extension in extensions:
            key = (type(extension), stage)
            try:
                plan = plans[key]
            except KeyError:
                hook_fn = getattr(type(extension), stage)
                plan = None if hook_fn is getattr(SchemaExtension, stage) else _plan(hook_fn)
                plans[key] = plan  # bounded: the schema's extension classes, four stages
            if plan is not None:
                found.append((plan[0], extension, plan[1]))
        return found


class _Stage:
    """One stage's hooks, entered in order on one exit stack, as Strawberry does."""

    __slots__ = ("_async_stack", "_hooks", "_name", "_stack")

    def __init__(self, hooks: list[Entry], name: str) -> None:
        self._hooks = hooks
        self._name = name

    def __enter__(self) -> None:
        stack = self._stack = contextlib.ExitStack()
        for enter, extension, is_async in self._hooks:
            if is_async:
                raise RuntimeError(
                    f"SchemaExtension hook {extension}.{self._name} "
                    "failed to complete synchronously."
                )
            stack.enter_context(enter(extension))

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc_val: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> None:
        # Strawberry drops what the stack returns: a hook cannot swallow the error.
        self._stack.__exit__(exc_type, exc_val, exc_tb)

    async def __aenter__(self) -> None:
        stack = self._async_stack = contextlib.AsyncExitStack()
        for enter, extension, is_async in self._hooks:
            if is_async:
                await stack.enter_async_context(enter(extension))
            else:
                stack.enter_context(enter(extension))

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_val: BaseException | None,
        exc_tb: TracebackType | None,
    ) -> None:
        await self._async_stack.__aexit__(exc_type, exc_val, exc_tb)


class _PlannedRunner(SchemaExtensionsRunner):
    def __init__(
        self,
        execution_context: ExecutionContext,
        extensions: list[SchemaExtension],
        plans: HookPlans,
    ) -> None:
        super().__init__(execution_context, extensions)
        self._plans = plans

    def _stage(self, name: str) -> _Stage:
        return _Stage(self._plans.hooks(self.extensions, name), name)

    def operation(self) -> Any:
        return self._stage("on_operation")

    def validation(self) -> Any:
        return self._stage("on_validate")

    def parsing(self) -> Any:
        return self._stage("on_parse")

    def executing(self) -> Any:
        return self._stage("on_execute")


class PlannedHooks:
    """A Strawberry schema mixin: its extensions' hooks run through `HookPlans`."""

    _hook_plans: HookPlans | None = None

    def create_extensions_runner(
        self, execution_context: ExecutionContext, extensions: list[SchemaExtension]
    ) -> SchemaExtensionsRunner:
        plans = self._hook_plans
        if plans is None:
            plans = self._hook_plans = HookPlans()
        return _PlannedRunner(execution_context, extensions, plans)
