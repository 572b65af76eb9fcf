export { DockerTarget, type DockerTargetOptions } from './docker-target.js';
export { InMemoryRouteTable } from './in-memory-route-table.js';
export { LogCollector } from './log-collector.js';
export { ProcessInsight } from './process-insight.js';
