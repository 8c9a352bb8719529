// relayStylePagination over a scenario connection: every page forward with
// fetchMore(after), then every page backward with fetchMore(before), as a table
// component would. argv: gateway URL, API key, organization, page size.
const { ApolloClient, InMemoryCache, HttpLink, gql } = require("@apollo/client/core");
const { relayStylePagination } = require("@apollo/client/utilities");
const { GATEWAY, HEADERS, recordingFetch, done, fail } = require("./common.cjs");

const [, , , , org, size] = process.argv;
const PAGE = gql`
  query Walk($org: ID!, $first: Int, $after: String, $last: Int, $before: String) {
    organization(id: $org) {
      id
      scenarios(first: $first, after: $after, last: $last, before: $before) {
        totalCount
        edges { cursor node { id } }
        pageInfo { hasNextPage hasPreviousPage startCursor endCursor }
      }
    }
  }
`;

function client() {
  const cache = new InMemoryCache({
    typePolicies: { Organization: { fields: { scenarios: relayStylePagination() } } },
  });
  return new ApolloClient({ link: new HttpLink({ uri: GATEWAY, headers: HEADERS, fetch: recordingFetch }), cache });
}

async function walk(forward) {
  const apollo = client();
  const n = Number(size);
  const start = forward ? { org, first: n } : { org, last: n };
  const watch = apollo.watchQuery({ query: PAGE, variables: start });
  let result = await watch.result();
  let pages = 1;
  for (;;) {
    const connection = result.data.organization.scenarios;
    const more = forward ? connection.pageInfo.hasNextPage : connection.pageInfo.hasPreviousPage;
    if (!more) break;
    const variables = forward
      ? { org, first: n, after: connection.pageInfo.endCursor }
      : { org, last: n, before: connection.pageInfo.startCursor };
    await watch.fetchMore({ variables });
    result = watch.getCurrentResult();
    pages += 1;
  }
  const connection = result.data.organization.scenarios;
  return { ids: connection.edges.map((e) => e.node.id), totalCount: connection.totalCount, pages };
}

(async () => {
  const forward = await walk(true);
  const backward = await walk(false);
  done({ forward, backward });
})().catch(fail);
