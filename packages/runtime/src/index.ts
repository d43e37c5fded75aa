// Process plumbing shared by the receiver and the worker (and their CLIs).
export * from './env.js';
export * from './main.js';
export * from './redis.js';
export * from './secrets.js';
