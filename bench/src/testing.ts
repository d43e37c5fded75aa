// The helpers of `@flexprice/testing` the bench shares with the tests, through the package's
// vitest-free subpaths (its root entry also exports `redisTest`, a vitest fixture, which plain Node
// cannot load).

export { type FlexpriceApiStandIn, startFlexpriceApiStandIn } from '@flexprice/testing/flexprice-api';
export { canStartRedisCluster, startRedisCluster, type TestRedisCluster } from '@flexprice/testing/redis-cluster';
export type { TestRedis } from '@flexprice/testing/redis-server';
export { freePort, spawnRedisServer } from '@flexprice/testing/redis-server';
export {
  signedHeaders,
  staticAuthHeaders,
  TEST_OTHER_SECRET,
  TEST_SECRET,
  TEST_STATIC_AUTH,
} from '@flexprice/testing/webhooks';
