// Bundles GraphiQL, React and the Monaco workers into ../static/graphiql/ so the
// gateway can serve the IDE without any CDN. Run via `npm run build`.
import { build } from "esbuild";
import { copyFile, mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { brotliCompress, constants, gzip } from "node:zlib";

const here = dirname(fileURLToPath(import.meta.url));
const outDir = join(here, "..", "static", "graphiql");
const assetsDir = join(outDir, "assets");

// @graphiql/toolkit lazily imports the optional `graphql-ws` peer only when a
// subscriptionUrl is configured, which we never do: replace it with a stub.
const stubGraphqlWs = {
  name: "stub-graphql-ws",
  setup(b) {
    b.onResolve({ filter: /^graphql-ws$/ }, () => ({ path: "graphql-ws", namespace: "stub" }));
    b.onLoad({ filter: /.*/, namespace: "stub" }, () => ({
      contents:
        "export function createClient() { throw new Error('GraphQL subscriptions are not supported here'); }",
      loader: "js",
    }));
  },
};

const common = {
  bundle: true,
  minify: true,
  target: "es2020",
  logLevel: "warning",
  define: { "process.env.NODE_ENV": '"production"' },
};

await rm(outDir, { recursive: true, force: true });
await mkdir(assetsDir, { recursive: true });

await build({
  ...common,
  entryPoints: { graphiql: join(here, "src", "main.js") },
  outdir: assetsDir,
  format: "esm",
  loader: { ".ttf": "file", ".woff": "file", ".woff2": "file" },
  assetNames: "[name]-[hash]",
  plugins: [stubGraphqlWs],
});

await build({
  ...common,
  entryPoints: {
    "editor.worker": "monaco-editor/esm/vs/editor/editor.worker.js",
    "json.worker": "monaco-editor/esm/vs/language/json/json.worker.js",
    "graphql.worker": "monaco-graphql/esm/graphql.worker.js",
  },
  outdir: assetsDir,
  format: "iife",
});

// Each asset also compressed, once and at the highest levels, beside itself: the gateway
// serves `name.br` or `name.gz` to a browser that accepts it (5 MB of script become
// about 1 MB), instead of compressing megabytes on every visit.
const brotli = promisify(brotliCompress);
const gzipped = promisify(gzip);
for (const name of await readdir(assetsDir)) {
  const path = join(assetsDir, name);
  const data = await readFile(path);
  const size = data.length;
  const params = {
    [constants.BROTLI_PARAM_QUALITY]: constants.BROTLI_MAX_QUALITY,
    [constants.BROTLI_PARAM_SIZE_HINT]: size,
  };
  await writeFile(`${path}.br`, await brotli(data, { params }));
  await writeFile(`${path}.gz`, await gzipped(data, { level: 9 }));
}

await copyFile(join(here, "src", "index.html"), join(outDir, "page.html"));
// Build output never belongs in git, whatever the top-level .gitignore says.
await writeFile(join(outDir, ".gitignore"), "*\n");
