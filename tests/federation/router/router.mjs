// A federation router (@apollo/gateway inside Apollo Server) on loopback, for the tests.
//
// Usage: node router.mjs NAME=URL [NAME=URL ...]
// Environment: INTROSPECTION_AUTHORIZATION, the Authorization header sent with the
// `_service { sdl }` requests that compose the supergraph (the gateway wants a key
// for every request). Prints one JSON line {"url": ...} once it serves.
//
// Each caller's Authorization header is forwarded to every subgraph: that is how
// the analytics gateway knows who is asking, and what it may see.
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
}

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
  plugins: [ApolloServerPluginLandingPageDisabled()],
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
