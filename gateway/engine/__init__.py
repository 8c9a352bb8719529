"""The executor under the schema: Strawberry and graphql-core, with their per-field and
per-request machinery worked out once instead.

`gateway.graph` holds the graph itself (types, thin resolvers, the checks before
execution); this package holds how it runs, and is where the gateway leans on the
libraries' internals, held to the versions pyproject.toml pins:

- graphql-core 3.3's `Executor` and field collection (`collect_fields`:
  `CollectedFields`, `GroupedFieldSet`, `FieldDetailsList`): `execution`, `plans`,
  `builders` and `collected`;
- Strawberry's schema internals (`schema._schema`, its extension runner, its
  resolver wrapping and argument conversion): `hooks`, `resolvers`, `conversions`,
  and its parse and validation caches: `document_cache`.

Each module says what it replaces and falls back to the libraries' own path for
anything it does not cover. bench/RESULTS.md has what each was measured to save.
"""
