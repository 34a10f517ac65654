/**
 * The Colloquy protocol: zod schemas and types for ops, events, items and log records.
 */
export * from './items.js';
export * from './ops.js';
export * from './events.js';
export * from './records.js';
export * from './validate.js';
export * from './approvals.js';
export * from './ids.js';
export * from './json-schema.js';
