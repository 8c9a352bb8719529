// Hive Gateway over the analytics gateway, as the README sets it up: each caller's
// Authorization goes to the analytics subgraph, and its errors are all kept.
import { defineConfig } from "@graphql-hive/gateway";
import { useKeepSubgraphErrors } from "./keep-subgraph-errors";

export const gatewayConfig = defineConfig({
  propagateHeaders: {
    fromClientToSubgraphs: ({ request, subgraphName }) =>
      subgraphName === "analytics"
        ? { authorization: request.headers.get("authorization") ?? "" }
        : {},
  },
  plugins: () => [useKeepSubgraphErrors(["analytics"])],
});
