// The ops toolkit shared by every app and CLI: configuration parsing, logging, the ops endpoints,
// Redis connections and their error reports, startup.
export * from './config-record.js';
export * from './env.js';
export * from './eviction.js';
export * from './layouts.js';
export * from './logger.js';
export * from './main.js';
export * from './ops-server.js';
export * from './redis.js';
export * from './redis-scripts.js';
export * from './replicas.js';
export * from './secrets.js';
export * from './urls.js';
