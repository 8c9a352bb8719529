// A federation router (@apollo/gateway inside Apollo Server) on loopback, for the tests.
//
// Usage: node router.mjs NAME=URL [NAME=URL ...]
// Environment: INTROSPECTION_AUTHORIZATION, the Authorization header sent with the
// `_service { sdl }` requests that compose the supergraph (the gateway wants a key
// for every request). Prints one JSON line {"url": ...} once it serves.
//
// Each caller's Authorization header is forwarded to the analytics subgraph: that is
// how the analytics gateway knows who is asking, and what it may see. Its note of
// stale data (`extensions.cache`) is passed on to the caller.
import { ApolloServer } from "@apollo/server";
import { ApolloServerPluginLandingPageDisabled } from "@apollo/server/plugin/disabled";
import { startStandaloneServer } from "@apollo/server/standalone";
import { ApolloGateway, IntrospectAndCompose, RemoteGraphQLDataSource } from "@apollo/gateway";

class ForwardAuthorization extends RemoteGraphQLDataSource {
  willSendRequest({ request, context }) {
    if (context.authorization) {
      request.http.headers.set("authorization", context.authorization);
    }
  }

  // A router drops a subgraph's response extensions: keep the gateway's note that
  // part of the answer is stale, for `cacheNotes` to pass on to the caller.
  didReceiveResponse({ response, context }) {
    const note = response.extensions?.cache;
    if (note) {
      const kept = (context.cache ??= { hits: 0, misses: 0, stale: 0 });
      kept.hits += note.hits ?? 0;
      kept.misses += note.misses ?? 0;
      kept.stale += note.stale ?? 0;
      if (note.staleOnError) {
        kept.staleOnError = [...new Set([...(kept.staleOnError ?? []), ...note.staleOnError])];
      }
    }
    return response;
  }
}

const cacheNotes = {
  async requestDidStart() {
    return {
      async willSendResponse({ response, contextValue }) {
        if (contextValue.cache && response.body.kind === "single") {
          const result = response.body.singleResult;
          result.extensions = { ...result.extensions, cache: contextValue.cache };
        }
      },
    };
  },
};

const subgraphs = process.argv.slice(2).map((arg) => {
  const [name, url] = arg.split("=", 2);
  return { name, url };
});
const introspectionKey = process.env.INTROSPECTION_AUTHORIZATION;
const introspectionHeaders = ({ name }) =>
  introspectionKey && name === "analytics" ? { authorization: introspectionKey } : {};

const gateway = new ApolloGateway({
  supergraphSdl: new IntrospectAndCompose({ subgraphs, introspectionHeaders }),
  // The analytics API key goes to the analytics subgraph alone.
  buildService: ({ name, url }) =>
    name === "analytics" ? new ForwardAuthorization({ url }) : new RemoteGraphQLDataSource({ url }),
});
const server = new ApolloServer({
  gateway,
  plugins: [ApolloServerPluginLandingPageDisabled(), cacheNotes],
  includeStacktraceInErrorResponses: false,
});
const { url } = await startStandaloneServer(server, {
  listen: { host: "127.0.0.1", port: 0 },
  context: async ({ req }) => ({ authorization: req.headers.authorization }),
});
process.stdout.write(JSON.stringify({ url }) + "\n");

const stop = async () => {
  await server.stop();
  process.exit(0);
};
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
