// Entry point of the self-hosted GraphiQL page. Everything it needs is bundled
// by build.mjs; nothing is fetched from a CDN at runtime.
import { createElement } from "react";
import { createRoot } from "react-dom/client";
import { GraphiQL } from "graphiql";
import { createGraphiQLFetcher } from "@graphiql/toolkit";
import "graphiql/style.css";
import "./page.css";

// Monaco runs its language services in web workers; build.mjs emits them next
// to this file, so resolve them relative to this module's own URL.
const workerUrls = {
  editor: new URL("./editor.worker.js", import.meta.url),
  json: new URL("./json.worker.js", import.meta.url),
  graphql: new URL("./graphql.worker.js", import.meta.url),
};

globalThis.MonacoEnvironment = {
  getWorker(_workerId, label) {
    const url = workerUrls[label] ?? workerUrls.editor;
    return new Worker(url, { name: label });
  },
};

// The server passes its settings as JSON in a non-executable script element,
// so the page needs no inline script (friendly to a Content-Security-Policy).
function readConfig() {
  const element = document.getElementById("graphiql-config");
  return JSON.parse(element?.textContent || "{}");
}

function mount() {
  const config = readConfig();
  const endpoint = new URL(config.endpoint || "/graphql", window.location.href).href;
  const fetcher = createGraphiQLFetcher({ url: endpoint });
  const props = {
    fetcher,
    isHeadersEditorEnabled: true,
    defaultEditorToolsVisibility: config.defaultHeaders ? "headers" : true,
  };
  if (config.defaultQuery != null) props.defaultQuery = config.defaultQuery;
  if (config.defaultHeaders != null) props.defaultHeaders = config.defaultHeaders;
  // A link to a query by GET (`/graphql?query=...&variables=...`) opens on that query.
  const link = new URLSearchParams(window.location.search);
  if (link.has("query")) props.initialQuery = link.get("query");
  if (link.has("variables")) props.initialVariables = link.get("variables");
  createRoot(document.getElementById("graphiql")).render(createElement(GraphiQL, props));
}

mount();
