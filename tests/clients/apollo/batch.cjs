// BatchHttpLink under Apollo's persisted-query link, on a first load (nothing
// registered) and again (registered): what each operation got, and the traffic.
// argv: gateway URL, API key, Accept header ("default" for Apollo Client 3's own).
const crypto = require("node:crypto");
const { ApolloClient, InMemoryCache, gql } = require("@apollo/client/core");
const { BatchHttpLink } = require("@apollo/client/link/batch-http");
const { createPersistedQueryLink } = require("@apollo/client/link/persisted-queries");
const { GATEWAY, HEADERS, recordingFetch, done, fail } = require("./common.cjs");

const accept = process.argv[4];
const headers = accept === "default" ? HEADERS : { ...HEADERS, accept };
const sha256 = (text) => crypto.createHash("sha256").update(text).digest("hex");
const link = createPersistedQueryLink({ sha256 }).concat(
  new BatchHttpLink({ uri: GATEWAY, headers, batchMax: 5, fetch: recordingFetch }),
);
const client = new ApolloClient({
  link,
  cache: new InMemoryCache(),
  defaultOptions: { query: { fetchPolicy: "no-cache", errorPolicy: "all" } },
});
const QUERIES = [
  gql`query Orgs { organizations { id } }`,
  gql`query Name { organization(id: "aurora") { name } }`,
  gql`query Missing { organization(id: "nowhere") { name } }`,
];

async function load() {
  const settled = await Promise.allSettled(QUERIES.map((query) => client.query({ query })));
  return settled.map((s) =>
    s.status === "fulfilled"
      ? { data: s.value.data, codes: (s.value.errors || []).map((e) => e.extensions.code) }
      : { failed: s.reason.message },
  );
}

(async () => {
  const first = await load();
  const again = await load();
  done({ first, again });
})().catch(fail);
