// The peer as users run it out of the box: Hive Gateway defaults, no response cache.
import { defineConfig } from '@graphql-hive/gateway';

export const gatewayConfig = defineConfig({});
