import type Docker from 'dockerode';
import type { BackendSettings, ImageBuilder, Log, Target, TlsMaterial, WorkerConfig } from '@sidecar/core';
import type { PlatformImages } from '@sidecar/runtime-image';
import type { Stores } from '@sidecar/store';
import type { ImageHousekeeping } from '../retention.js';

/** Something the backend runs in the background (log collection, process insight). */
export interface BackgroundPart {
  start(): void;
  close(): Promise<void>;
}

/**
 * Everything that differs between running apps on the local Docker engine and on a cluster, made
 * by one constructor per target: the worker's main.ts wires a Backend and never asks which one it is.
 */
export interface Backend {
  /** What this backend applies; the worker publishes it for the API (`/manifests`, new releases). */
  readonly settings: BackendSettings;
  readonly target: Target;
  /** Wraps the build pipeline's image builder (e.g. to push each logic image to the registry). */
  publishing(builder: ImageBuilder): ImageBuilder;
  /** Logic images past retention and of deleted apps: on the engine, and in the registry where one is used. */
  readonly images: ImageHousekeeping;
  /** App logs into the store, and process snapshots from procinfo sidecars. */
  readonly logs: BackgroundPart;
  readonly processes: BackgroundPart;
  /** Takes over what runs already (adoption), then starts background work. */
  start(log: (line: string) => void): Promise<void>;
  /** Stops background work and the target's supervision; apps keep running. */
  close(): Promise<void>;
}

export interface BackendDeps {
  config: WorkerConfig;
  docker: Docker;
  images: PlatformImages;
  stores: Stores;
  /** The `tls` sidecar's certificate for an app that brings none (signed by the platform CA). */
  issueTls: (app: string) => Promise<TlsMaterial>;
  /** The worker's logger: the backend's parts log their failures there. */
  log: Log;
  /** What the engine said of itself at the worker's start (`docker info`), read once for every part. */
  engine: { NCPU: number };
}
