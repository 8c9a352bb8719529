// The peer: GraphQL Mesh composing both upstreams from their OpenAPI documents.
// bench/run.py composes it against the running sandbox: SANDBOX_URL is its base URL.
import { defineConfig } from '@graphql-mesh/compose-cli';
import { loadOpenAPISubgraph } from '@omnigraph/openapi';

const sandbox = process.env.SANDBOX_URL;
if (!sandbox) throw new Error('set SANDBOX_URL to the sandbox base URL');

export const composeConfig = defineConfig({
  subgraphs: [
    {
      sourceHandler: loadOpenAPISubgraph('Zylon', {
        source: '../../schema/upstreams/zylon.openapi.json',
        endpoint: `${sandbox}/zylon`,
        operationHeaders: {
          Authorization: 'Bearer sbx-zylon-aurora',
          'x-org': 'aurora-labs',
        },
      }),
    },
    {
      sourceHandler: loadOpenAPISubgraph('Make', {
        source: '../../schema/upstreams/make.openapi.json',
        endpoint: `${sandbox}/make/eu1/api/v2`,
        operationHeaders: {
          Authorization: 'Token sbx-make-aurora',
        },
      }),
    },
  ],
});
