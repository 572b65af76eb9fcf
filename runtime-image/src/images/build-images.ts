#!/usr/bin/env node
/**
 * CLI: ensures the platform images on the local Docker engine and prints them
 * as one JSON line on stdout (progress goes to stderr).
 *   node runtime-image/dist/images/build-images.js
 * SIDECAR_NODE_BASE_IMAGE=node:20-bookworm-slim tries that base first (pull), falling back to the offline one.
 */
import Dockerode from 'dockerode';
import { ensurePlatformImages } from './images.js';

async function main(): Promise<void> {
  // The launcher names the engine's socket (SIDECAR_DOCKER_SOCKET); otherwise Docker's own defaults (DOCKER_HOST).
  const socketPath = process.env.SIDECAR_DOCKER_SOCKET;
  const docker = socketPath ? new Dockerode({ socketPath }) : new Dockerode();
  const started = Date.now();
  const upstream = process.env.SIDECAR_NODE_BASE_IMAGE;
  const images = await ensurePlatformImages({
    docker,
    log: (line) => process.stderr.write(`${line}\n`),
    ...(upstream ? { upstreamNodeImage: upstream } : {}),
  });
  process.stderr.write(`platform images ready in ${Date.now() - started} ms\n`);
  process.stdout.write(`${JSON.stringify(images)}\n`);
}

main().catch((err: unknown) => {
  process.stderr.write(`build-images failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exit(1);
});
