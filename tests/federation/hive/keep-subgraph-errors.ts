// A Hive Gateway plugin that keeps the errors of the analytics subgraph which Hive
// Gateway 2.15 drops: an error whose path holds data. The gateway answers some
// non-null fields empty or zero beside their error (`teams: []` with NOT_LINKED,
// `activeUsers: []` with UPSTREAM_UNAVAILABLE); without this, a client of Hive sees
// an outage as real emptiness. @apollo/gateway keeps those errors by itself.
//
// It relies on how @graphql-tools/delegate 12 keeps such errors (under the symbols
// below): check it again when upgrading Hive Gateway. `tests/federation/test_hive.py`
// runs it against the real gateway.
import type { GatewayPlugin } from "@graphql-hive/gateway";
import { GraphQLError, type GraphQLSchema } from "graphql";

// Delegate puts a subgraph error in the answer only where the subgraph's data is null;
// any other hangs on the delegated object under this symbol and reaches no client.
const UNPATHED = Symbol.for("subschemaErrors"); // delegate's UNPATHED_ERRORS_SYMBOL
const SUBSCHEMA = Symbol.for("initialSubschema"); // delegate's OBJECT_SUBSCHEMA_SYMBOL

/** Appends to the final result the errors of `subgraphs` that Hive left out. */
export function useKeepSubgraphErrors(subgraphs: string[]): GatewayPlugin {
  const kept = new WeakMap<object, GraphQLError[]>(); // the client's context -> errors
  const keep = (ctx: object, e: any, path?: readonly (string | number)[]) =>
    kept.set(ctx, [...(kept.get(ctx) ?? []), new GraphQLError(e.message, { path, extensions: e.extensions })]);
  const wrapped = new WeakSet<object>();

  return {
    // 1. Root fields: a root resolver returns the delegated object(s) holding the
    //    errors; `info.path.key` is the client's response key (Hive drops a root
    //    alias, and its batching renames the field, so the subgraph's path lacks it).
    onSchemaChange({ schema }: { schema: GraphQLSchema }) {
      for (const type of [schema.getQueryType(), schema.getMutationType()]) {
        for (const field of Object.values(type?.getFields() ?? {})) {
          if (wrapped.has(field) || !field.resolve) continue;
          wrapped.add(field);
          const resolve = field.resolve;
          field.resolve = async (root, args, ctx, info) => {
            const result: any = await resolve(root, args, ctx, info);
            const errors = new Set<any>(); // a list's items share one array
            for (const obj of [result].flat()) {
              if (obj?.[UNPATHED] && subgraphs.includes(obj[SUBSCHEMA]?.name)) {
                obj[UNPATHED].forEach((e: any) => errors.add(e));
              }
            }
            for (const e of errors) keep(ctx, e, e.path && [info.path.key, ...e.path.slice(1)]);
            return result;
          };
        }
      }
    },
    // 2. `_entities` fetches (`_v0__entities` when batched): their place in the
    //    client's answer cannot be told here, so their errors are kept without a path.
    onSubgraphExecute({ subgraphName, executionRequest: { context: ctx } }) {
      if (!ctx || !subgraphs.includes(subgraphName)) return;
      return ({ result }) => {
        if (Symbol.asyncIterator in result) return;
        for (const e of result.errors ?? []) {
          if (/^(_v\d+_)?_entities$/.test(String(e.path?.[0]))) keep(ctx, e);
        }
      };
    },
    // 3. Append the kept errors the final result lacks. Each error Hive passed on
    //    answers for one kept error: matched by message, code and path, then with
    //    the path's first key aside (Hive reports some at the root field's name, not
    //    the client's alias). Not by message and code alone: one organization's
    //    NOT_LINKED errors share their message, and the one Hive passed (at a null)
    //    hid the one it dropped (review17).
    onExecute({ args }) {
      return {
        onExecuteDone({ result, setResult }) {
          const mine = kept.get(args.contextValue);
          if (!mine || Symbol.asyncIterator in result) return; // not for @defer/@stream
          const passed = [...(result.errors ?? [])];
          const sig = (e: any, wholePath: boolean) =>
            JSON.stringify([e.message, e.extensions?.code, wholePath ? e.path : e.path?.slice(1)]);
          const take = (k: GraphQLError, withPath: boolean) => {
            const i = passed.findIndex((p) => sig(p, withPath) === sig(k, withPath));
            return i >= 0 && passed.splice(i, 1).length > 0;
          };
          const dropped = mine.filter((k) => !take(k, true)).filter((k) => !take(k, false));
          if (dropped.length) setResult({ ...result, errors: [...(result.errors ?? []), ...dropped] });
        },
      };
    },
  };
}
