export * from './guards.js';
export * from './logger.js';
export * from './data-plane.js';
