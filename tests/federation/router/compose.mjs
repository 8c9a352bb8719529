// Composes subgraph SDL files into a supergraph, with @apollo/composition (Apollo's
// routers, rover) or, after `--guild`, @theguild/federation-composition (Hive Gateway,
// the Hive registry, Mesh compose).
// Usage: node compose.mjs [--guild] NAME=PATH [NAME=PATH ...]
// Prints one JSON line: {"errors": [...], "hints": [...], "supergraphSdl": "..." | null}.
import { readFileSync } from "node:fs";
import * as apollo from "@apollo/composition";
import * as guild from "@theguild/federation-composition";
import { parse } from "graphql";

const args = process.argv.slice(2);
const composer = args[0] === "--guild" ? guild : apollo;
const services = args.filter((arg) => arg !== "--guild").map((arg) => {
  const [name, path] = arg.split("=", 2);
  return { name, url: `http://${name}.invalid/graphql`, typeDefs: parse(readFileSync(path, "utf8")) };
});
const result = composer.composeServices(services);
const describe = (e) => ({ code: e.extensions?.code ?? e.definition?.code ?? null, message: e.message });
process.stdout.write(
  JSON.stringify({
    errors: (result.errors ?? []).map(describe),
    hints: (result.hints ?? []).map(describe),
    supergraphSdl: result.supergraphSdl ?? null,
  }) + "\n",
);
