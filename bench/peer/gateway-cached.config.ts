// The peer with its response cache on: one shared (public) cache, entries kept 60 s
// like the analytics gateway's default TTL. The warm runs compare against this.
import { defineConfig } from '@graphql-hive/gateway';

export const gatewayConfig = defineConfig({
  responseCaching: {
    session: () => null,
    ttl: 60_000,
  },
});
