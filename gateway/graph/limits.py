"""Operation limits: a hostile or careless document is refused before any resolver runs.

Before parsing: the document's size, its token count and how deeply its brackets
nest (so the parser itself never recurses far). Before validation: field depth
and aliases, counted through fragments (a fragment counts at every spread, so an
alias bomb through a reused fragment is caught); what validation will compare in
pairs (`expansion`: all fields, all spreads, the fields of one merged selection
set), which keeps it to about 30 ms a document; `_entities` representations; and
a cost estimate that multiplies list sizes (`first`, `last`, `limit`,
`representations`; a default for unbounded lists) through nesting. Each refusal
is `QUERY_TOO_COMPLEX`.

Fragments are measured once each (memoized), so reuse costs no extra work; a
fragment cycle counts as empty here, every limit still applies, and validation
reports the cycle (GRAPHQL_VALIDATION_FAILED).
Introspection is bounded by graphql-core's MaxIntrospectionDepthRule (made sure
of here) rather than by depth or cost, as it makes no upstream call; or refused
when switched off.
"""

from __future__ import annotations

import hashlib
import re
import threading
from collections import OrderedDict
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from graphql import (
    BooleanValueNode,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLField,
    GraphQLInterfaceType,
    GraphQLList,
    GraphQLNamedType,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    GraphQLSyntaxError,
    InlineFragmentNode,
    IntValueNode,
    ListValueNode,
    OperationDefinitionNode,
    SelectionNode,
    SelectionSetNode,
    Source,
    ValueNode,
    VariableNode,
    get_named_type,
    is_leaf_type,
    parse,
)
from graphql.language import Lexer, TokenKind
from graphql.validation import (
    ASTValidationRule,
    MaxIntrospectionDepthRule,
    NoSchemaIntrospectionCustomRule,
)
from strawberry.extensions import SchemaExtension

from gateway.config import GraphQLSettings, LimitsSettings
from gateway.errors import Code
from gateway.graph.error_codes import internal
from gateway.graph.expansion import Expansion, expand
from gateway.graph.scenarios import DEFAULT_PAGE_SIZE
from gateway.graph.selection import switched_off
from gateway.upstreams.zylon import MAX_RANKING

# The list size assumed where a query does not bound one (teams, organizations, points).
DEFAULT_LIST_SIZE = 10
SIZE_ARGUMENTS = ("first", "last", "limit")
PAGED_ARGUMENTS = frozenset({"first", "last"})
# Brackets may nest a little deeper than fields: input objects and lists in arguments.
BRACKET_SLACK = 8
INTROSPECTION_ROOTS = frozenset({"__schema", "__type"})
_SUGGESTION = re.compile(r"\s*Did you mean [^\n]*\?$")
_OPEN = frozenset({TokenKind.BRACE_L, TokenKind.BRACKET_L, TokenKind.PAREN_L})
_CLOSE = frozenset({TokenKind.BRACE_R, TokenKind.BRACKET_R, TokenKind.PAREN_R})
MAX_SAFE_INTEGER = 2**53 - 1
# Int literals longer than this are refused (Int holds 32 bits; past 4300 digits int() raises).
LONGEST_INT = 20
LARGE = 2**63


def as_int(value: Any) -> int | None:
    """A size as graphql-core will coerce it for an Int: 100 and 100.0 (1e2) alike."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def too_complex(message: str, limit: str, value: int, maximum: int) -> GraphQLError:
    # A JSON number past 2**53 loses digits in a browser, and orjson refuses one past 2**64.
    value = min(value, MAX_SAFE_INTEGER)
    extensions = {"code": Code.QUERY_TOO_COMPLEX, "limit": limit, "value": value, "max": maximum}
    return GraphQLError(message, extensions=extensions)


def check_document_text(query: str, limits: LimitsSettings) -> GraphQLError | None:
    """Size, tokens and bracket nesting, before the parser sees the document."""
    size = len(query.encode("utf-8"))
    if size > limits.max_document_bytes:
        return too_complex(
            f"The document is {size} bytes; the limit is {limits.max_document_bytes}.",
            "max_document_bytes",
            size,
            limits.max_document_bytes,
        )
    return SCANS.get(query, limits)


class Scans:
    """`_scan`'s results by text: clients send the same few documents over and over.
    Least recently used out first, bounded by the characters of the texts it keeps (an
    `lru_cache` of 512 kept 512 texts of up to `max_document_bytes`: 41 MB, at 4 bytes
    a character past one emoji, the leak audit). Only documents within
    max_document_bytes get here."""

    def __init__(self, max_chars: int = 1_000_000) -> None:
        self.max_chars = max_chars
        self.chars = 0
        self._lock = threading.Lock()
        self._results: OrderedDict[tuple[str, LimitsSettings], GraphQLError | None] = OrderedDict()

    def __len__(self) -> int:
        return len(self._results)

    def get(self, query: str, limits: LimitsSettings) -> GraphQLError | None:
        key = (query, limits)
        with self._lock:  # apps in several threads (the tests') share it
            if key in self._results:
                self._results.move_to_end(key)
                return self._results[key]
        result = _scan(query, limits)
        with self._lock:
            if key not in self._results:
                self._results[key] = result
                self.chars += len(query)
            while self.chars > self.max_chars and self._results:
                (evicted, _), _ = self._results.popitem(last=False)
                self.chars -= len(evicted)
        return result


SCANS = Scans()  # the results depend on the text and limits alone: shared, like lru_cache's


def _scan(query: str, limits: LimitsSettings) -> GraphQLError | None:
    """Tokens and nesting."""
    tokens = nesting = 0
    lexer = Lexer(Source(query))
    try:
        while (kind := (token := lexer.advance()).kind) is not TokenKind.EOF:
            tokens += 1
            if kind is TokenKind.INT and len(digits := token.value or "") > LONGEST_INT:
                # Past 4300 digits Python's int() raises, in graphql-core's validation too.
                return GraphQLError(
                    f"Int cannot represent a number of {len(digits)} digits.",
                    source=lexer.source,
                    positions=[token.start],
                    extensions={"code": Code.GRAPHQL_VALIDATION_FAILED},
                )
            if tokens > limits.max_tokens:
                return too_complex(
                    f"The document has more than {limits.max_tokens} tokens.",
                    "max_tokens",
                    tokens,
                    limits.max_tokens,
                )
            if kind in _OPEN:
                nesting += 1
                if nesting > limits.max_depth + BRACKET_SLACK:
                    return too_complex(
                        f"The document nests more than {limits.max_depth} levels deep.",
                        "max_depth",
                        nesting,
                        limits.max_depth,
                    )
            elif kind in _CLOSE:
                nesting -= 1
    except GraphQLSyntaxError:
        return None  # the parser reports it, with its position
    return None


@dataclass(frozen=True, slots=True)
class Measure:
    depth: int = 0
    aliases: int = 0
    cost: int = 0

    def __add__(self, other: Measure) -> Measure:
        return Measure(
            max(self.depth, other.depth), self.aliases + other.aliases, self.cost + other.cost
        )


class _Measurer:
    """Depth, aliases and cost of selection sets, each fragment measured once."""

    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: Mapping[str, FragmentDefinitionNode],
        operation: OperationDefinitionNode,
        variables: Mapping[str, Any],
        limits: LimitsSettings,
    ) -> None:
        self.schema = schema
        self.fragments = fragments
        self.variables = variables
        self.defaults = {
            d.variable.name.value: d.default_value for d in operation.variable_definitions or ()
        }
        self.max_depth = limits.max_depth
        # A size past its bound is measured at the bound: the argument check refuses it
        # with BAD_USER_INPUT, which says more than a cost would.
        self.max_size = {
            "first": limits.max_page_size,
            "last": limits.max_page_size,
            "limit": MAX_RANKING,
        }
        self.memo: dict[str, Measure] = {}
        self.representations = 0  # `_entities` representations, over every such field
        self.expanding: set[str] = set()
        self.reads: set[str] = set()  # the variables the measure depends on

    def selection_set(
        self,
        selection_set: SelectionSetNode | None,
        parent: GraphQLNamedType | None,
        level: int,
        sized: bool,
    ) -> Measure:
        total = Measure()
        if selection_set is None:
            return total
        if level > self.max_depth:
            # Deep enough to refuse: no need to walk (or recurse) any further.
            return Measure(depth=self.max_depth + 1)
        for node in selection_set.selections:
            if self.skipped(node):
                continue
            if isinstance(node, FieldNode):
                total += self.field(node, parent, level, sized)
            elif isinstance(node, InlineFragmentNode):
                condition = node.type_condition
                owner = self.schema.get_type(condition.name.value) if condition else parent
                total += self.selection_set(node.selection_set, owner, level, sized)
            elif isinstance(node, FragmentSpreadNode):
                total += self.fragment(node.name.value, level)
        return total

    def skipped(self, node: SelectionNode) -> bool:
        """`@skip(if: true)` or `@include(if: false)`: nothing below it runs or costs."""
        return switched_off(node, self.boolean)

    def boolean(self, node: ValueNode | None) -> bool | None:
        if isinstance(node, BooleanValueNode):
            return node.value
        if isinstance(node, VariableNode):
            name = node.name.value
            self.reads.add(name)
            if name not in self.variables:
                return self.boolean(self.defaults.get(name))
            value = self.variables[name]
            return value if isinstance(value, bool) else None
        return None

    def fragment(self, name: str, level: int) -> Measure:
        definition = self.fragments.get(name)
        if definition is None:
            return Measure()  # unknown fragment: validation reports it
        if name in self.expanding:
            return Measure()  # a fragment cycle: validation reports it
        if name not in self.memo:
            # Measured from level 1, then shifted to where it is spread.
            self.expanding.add(name)
            owner = self.schema.get_type(definition.type_condition.name.value)
            self.memo[name] = self.selection_set(definition.selection_set, owner, 1, False)
            self.expanding.discard(name)
        measure = self.memo[name]
        depth = measure.depth + level - 1 if measure.depth else 0
        return Measure(depth, measure.aliases, measure.cost)

    def field(
        self, node: FieldNode, parent: GraphQLNamedType | None, level: int, sized: bool
    ) -> Measure:
        aliases = 1 if node.alias is not None else 0
        name = node.name.value
        if name in INTROSPECTION_ROOTS:
            # No upstream call; MaxIntrospectionDepthRule bounds it. Aliases still count.
            inner = self.selection_set(node.selection_set, None, 1, True)
            return Measure(level, aliases + inner.aliases, 1)
        definition = _field(parent, name)
        field_type = definition.type if definition is not None else None
        child = get_named_type(field_type) if field_type is not None else None
        size, bounds = self.list_size(node, definition, sized)
        inner = self.selection_set(node.selection_set, child, level + 1, bounds)
        depth = max(level, inner.depth)
        cost = 1 if child is not None and is_leaf_type(child) else 1 + size * inner.cost
        return Measure(depth, aliases + inner.aliases, cost)

    def list_size(
        self, node: FieldNode, definition: GraphQLField | None, sized: bool
    ) -> tuple[int, bool]:
        """How many items a field may return, and whether it bounds the lists below it."""
        if definition is None:
            return 1, False
        given = {a.name.value: a.value for a in node.arguments or ()}
        sizes = [
            min(size, self.max_size[name])
            for name in SIZE_ARGUMENTS
            if name in definition.args
            and (size := self.int_argument(given.get(name), definition.args[name].default_value))
            is not None
        ]
        if sizes:
            return max(0, *sizes), True
        if PAGED_ARGUMENTS & definition.args.keys():
            return DEFAULT_PAGE_SIZE, True  # a connection without first or last
        if "representations" in given:
            count = len(self.list_argument(given["representations"]))
            self.representations += count
            return count, False
        if _is_list(definition.type):
            return (1 if sized else DEFAULT_LIST_SIZE), False
        return 1, False

    def int_argument(self, node: ValueNode | None, default: Any) -> int | None:
        if isinstance(node, IntValueNode):
            # The text check refuses longer literals; here for documents without text.
            return int(node.value) if len(node.value) <= LONGEST_INT else LARGE
        if isinstance(node, VariableNode):
            name = node.name.value
            self.reads.add(name)
            if name not in self.variables:
                return self.int_argument(self.defaults.get(name), default)
            return as_int(self.variables[name])
        return as_int(default)

    def list_argument(self, node: ValueNode) -> list[Any]:
        if isinstance(node, ListValueNode):
            return list(node.values)
        if isinstance(node, VariableNode):
            self.reads.add(node.name.value)
            value = self.variables.get(node.name.value)
            return list(value) if isinstance(value, list) else []
        return [node]


def _field(parent: GraphQLNamedType | None, name: str) -> GraphQLField | None:
    if isinstance(parent, GraphQLObjectType | GraphQLInterfaceType):
        field: GraphQLField | None = parent.fields.get(name)
        return field
    return None


def _is_list(field_type: Any) -> bool:
    if isinstance(field_type, GraphQLNonNull):
        field_type = field_type.of_type
    return isinstance(field_type, GraphQLList)


def measure_document(
    schema: GraphQLSchema,
    document: DocumentNode,
    variables: Mapping[str, Any] | None,
    limits: LimitsSettings,
) -> list[GraphQLError]:
    """QUERY_TOO_COMPLEX errors for every limit the document's operations exceed."""
    return list(_measure(schema, document, variables or {}, limits)[1])


def _measure(
    schema: GraphQLSchema,
    document: DocumentNode,
    variables: Mapping[str, Any],
    limits: LimitsSettings,
) -> tuple[frozenset[str], tuple[GraphQLError, ...]]:
    """The errors, and the names of the variables they depend on."""
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    total = Measure()
    reads: set[str] = set()
    representations = 0
    try:
        for operation in operations:
            root = schema.get_root_type(operation.operation)
            measurer = _Measurer(schema, fragments, operation, variables, limits)
            measure = measurer.selection_set(operation.selection_set, root, 1, False)
            reads |= measurer.reads
            representations = max(representations, measurer.representations)  # one runs
            # Depth and cost are each operation's own (one runs); aliases are the document's.
            total = Measure(
                max(total.depth, measure.depth),
                total.aliases + measure.aliases,
                max(total.cost, measure.cost),
            )
    except RecursionError:
        error = too_complex("The document nests too deeply.", "max_depth", 0, limits.max_depth)
        return frozenset(reads), (error,)
    expansion = expand(
        (o.selection_set for o in operations),
        fragments,
        max_fields=limits.max_fields,
        max_spreads=limits.max_fragment_spreads,
    )
    return frozenset(reads), tuple(_over_limits(total, expansion, representations, limits))


def _variable_key(variables: Mapping[str, Any], name: str) -> tuple[str, int | None]:
    """All a measure sees of a variable: a boolean, an integer, a list's length, or none."""
    if name not in variables:
        return "absent", None
    value = variables[name]
    if isinstance(value, bool):
        return "bool", int(value)
    if (number := as_int(value)) is not None:
        return "int", number
    if isinstance(value, list):
        return "list", len(value)
    return "other", None


class MeasureCache:
    """Remembers which documents passed, per document text and the few variables that
    sway a measure.

    Only list sizes and `@skip`/`@include` conditions given as variables (and
    `representations`) change a measure, so the same dashboard with a new time range
    is measured once, not per request.
    A refused document is measured again each time: refusals are rare and their
    errors are not shared between requests.
    """

    def __init__(self, limits: LimitsSettings, max_entries: int = 1024) -> None:
        self.limits = limits
        self.max_entries = max_entries
        # Keyed by a digest of the text: a thousand large documents hold no memory here.
        self._reads: dict[bytes, frozenset[str]] = {}
        self._passed: set[tuple[bytes, tuple[tuple[str, int | None], ...]]] = set()

    def errors(
        self,
        schema: GraphQLSchema,
        query: str,
        document: DocumentNode,
        variables: Mapping[str, Any] | None,
    ) -> list[GraphQLError]:
        variables = variables or {}
        text = hashlib.sha256(query.encode()).digest()
        reads = self._reads.get(text)
        if reads is not None and (text, _key(variables, reads)) in self._passed:
            return []
        reads, errors = _measure(schema, document, variables, self.limits)
        if not errors:
            if len(self._passed) >= self.max_entries:
                self._passed.clear()
                self._reads.clear()
            self._reads[text] = reads
            self._passed.add((text, _key(variables, reads)))
        return list(errors)


def _key(variables: Mapping[str, Any], reads: frozenset[str]) -> tuple[tuple[str, int | None], ...]:
    return tuple(_variable_key(variables, name) for name in sorted(reads))


def _over_limits(
    measure: Measure, expansion: Expansion, representations: int, limits: LimitsSettings
) -> Iterator[GraphQLError]:
    widest = 0 if expansion.cut else expansion.widest  # a cut walk saw only part of a set
    checks = [
        (
            "max_depth",
            measure.depth,
            f"The operation nests more than {limits.max_depth} fields deep.",
        ),
        (
            "max_aliases",
            measure.aliases,
            f"The document uses {measure.aliases} aliases "
            f"(fragments counted at every spread); the limit is {limits.max_aliases}.",
        ),
        (
            "max_fields",
            expansion.fields,
            f"The document has more than {limits.max_fields} "
            "fields (fragments counted at every spread).",
        ),
        (
            "max_fragment_spreads",
            expansion.spreads,
            "The document spreads fragments more "
            f"than {limits.max_fragment_spreads} times (counted at every spread of the fragment "
            "holding them).",
        ),
        (
            "max_selection_fields",
            widest,
            f"A selection set gathers {widest} fields (through "
            "fragments, and with the fields of same-named siblings, which merge); the limit is "
            f"{limits.max_selection_fields}.",
        ),
        # Each costs a lookup and, when it names nothing, an error of its own: priced at
        # one by the cost estimate, 20,000 of them held a worker for 2 s.
        (
            "max_representations",
            representations,
            f"_entities is given {representations} representations (over all its "
            f"fields); the limit is {limits.max_representations}.",
        ),
        (
            "max_cost",
            measure.cost,
            f"The operation's estimated cost is {measure.cost}; the "
            f"limit is {limits.max_cost}. Ask for smaller pages (first, last, limit), fewer "
            "nested lists or fewer _entities representations.",
        ),
    ]
    for name, value, message in checks:
        limit: int = getattr(limits, name)
        if value > limit:
            yield too_complex(message, name, value, limit)


def hide_suggestions(error: GraphQLError) -> GraphQLError:
    message = _SUGGESTION.sub("", error.message)
    if message == error.message:
        return error
    return GraphQLError(
        message,
        nodes=error.nodes,
        source=error.source,
        positions=error.positions,
        path=error.path,
        original_error=error.original_error,
        extensions=error.extensions,
    )


class NoEmptySelections(ASTValidationRule):
    """`{ organizations { } }`: the GraphQL grammar asks for at least one selection, but
    graphql-core 3.3 parses an empty set and would answer `[{}, {}, {}]`."""

    def enter_selection_set(self, node: SelectionSetNode, *_: Any) -> None:
        if not node.selections:
            self.report_error(GraphQLError("A selection set must select at least one field.", node))


class OperationLimits(SchemaExtension):
    """The limits of `LimitsSettings` and the switches of `GraphQLSettings`, per operation.

    build_schema passes a factory: `functools.partial(OperationLimits, limits=, graphql=,
    measures=)`, the measures shared by every request.
    """

    def __init__(
        self, *, limits: LimitsSettings, graphql: GraphQLSettings, measures: MeasureCache
    ) -> None:
        super().__init__()
        self.limits = limits
        self.graphql = graphql
        self.measures = measures

    def on_operation(self) -> Iterator[None]:
        run = self.execution_context
        extra: type[ASTValidationRule] = MaxIntrospectionDepthRule
        if not self.graphql.introspection:
            extra = NoSchemaIntrospectionCustomRule
        for rule in (extra, NoEmptySelections):
            if rule not in run.validation_rules:
                run.validation_rules = (*run.validation_rules, rule)
        yield
        result = run.result
        if not self.graphql.field_suggestions and result is not None and result.errors:
            result.errors = [hide_suggestions(e) for e in result.errors]

    def on_parse(self) -> Iterator[None]:
        run = self.execution_context
        if run.graphql_document is None and run.query:
            error = check_document_text(run.query, self.limits)
            if error is not None:
                # Stands in for the refused document: strawberry skips parsing
                # and validation, and answers with the error.
                run.graphql_document = _placeholder(run.operation_name)
                run.pre_execution_errors = [error]
        yield

    def on_validate(self) -> Iterator[None]:
        run = self.execution_context
        document = run.graphql_document
        if document is not None and run.pre_execution_errors is None:
            schema = run.schema._schema
            try:
                if run.query:
                    errors = self.measures.errors(schema, run.query, document, run.variables)
                else:
                    errors = measure_document(schema, document, run.variables, self.limits)
            except Exception as exc:  # a bug here: a code, and nothing of its text
                errors = [internal(GraphQLError(str(exc)), exc)]
            if errors:
                run.pre_execution_errors = errors
        yield


def _placeholder(operation_name: str | None) -> DocumentNode:
    """Named as the request asks, so strawberry finds the operation and answers the
    refusal (not "no operation named ...", which the unread document may well have)."""
    if operation_name is not None and _NAME.fullmatch(operation_name):
        return parse(f"query {operation_name} {{ __typename }}", no_location=True)
    return parse("{ __typename }", no_location=True)


_NAME = re.compile(r"[_A-Za-z][_0-9A-Za-z]*")
