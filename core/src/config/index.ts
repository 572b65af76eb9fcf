export * from './config-doc.js';
export * from './processes.js';
export * from './variables.js';
