// Composes subgraph SDL files into a supergraph with @apollo/composition.
// Usage: node compose.mjs NAME=PATH [NAME=PATH ...]
// Prints one JSON line: {"errors": [...], "hints": [...], "supergraphSdl": "..." | null}.
import { readFileSync } from "node:fs";
import { composeServices } from "@apollo/composition";
import { parse } from "graphql";

const services = process.argv.slice(2).map((arg) => {
  const [name, path] = arg.split("=", 2);
  return { name, url: `http://${name}.invalid/graphql`, typeDefs: parse(readFileSync(path, "utf8")) };
});
const result = composeServices(services);
const describe = (e) => ({ code: e.extensions?.code ?? e.definition?.code ?? null, message: e.message });
process.stdout.write(
  JSON.stringify({
    errors: (result.errors ?? []).map(describe),
    hints: (result.hints ?? []).map(describe),
    supergraphSdl: result.supergraphSdl ?? null,
  }) + "\n",
);
