// Two views of the same scenarios over two ranges, in one InMemoryCache that keeps
// scenarios unnormalized, as the README advises: the first view's figures, before and
// after the second view is fetched. argv: gateway URL, API key, operation file,
// organization, then each range's from and to.
const fs = require("node:fs");
const { ApolloClient, InMemoryCache, HttpLink, gql } = require("@apollo/client/core");
const { GATEWAY, HEADERS, recordingFetch, done, fail } = require("./common.cjs");

const [, , , , file, org, fromA, toA, fromB, toB] = process.argv;
const QUERY = gql(fs.readFileSync(file, "utf8"));
const cache = new InMemoryCache({ typePolicies: { Scenario: { keyFields: false } } });
const apollo = new ApolloClient({ link: new HttpLink({ uri: GATEWAY, headers: HEADERS, fetch: recordingFetch }), cache });
const figures = (data) => data.organization.scenarios.edges.map((e) => [e.node.id, e.node.metrics.operations]);

(async () => {
  const a = { org, range: { from: fromA, to: toA } };
  const before = figures((await apollo.query({ query: QUERY, variables: a })).data);
  const other = await apollo.query({ query: QUERY, variables: { org, range: { from: fromB, to: toB } } });
  // The first view as its component reads it now: from the cache, with no request.
  const after = figures(apollo.readQuery({ query: QUERY, variables: a }));
  done({ before, after, other: figures(other.data) });
})().catch(fail);
