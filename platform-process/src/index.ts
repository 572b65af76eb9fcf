export * from './guards.js';
export * from './logger.js';
