// Test helpers shared by the apps; a devDependency only, never shipped in an image.
export * from './fixtures.js';
export * from './flexprice-api.js';
export * from './metrics.js';
export * from './process.js';
export * from './redis-cluster.js';
export * from './redis-container.js';
export * from './redis-keys.js';
export * from './redis-sentinel.js';
export * from './redis-server.js';
export * from './targets.js';
export * from './test-redis.js';
export * from './webhooks.js';
