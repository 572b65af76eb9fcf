import { LABEL_PREFIX, type AppManifest, type Deployment } from '@sidecar/core';
import type { ObjectHead } from './kube-objects.js';

/**
 * The Deployment exactly as the platform last applied it, kept on the object itself (like
 * kubectl's `last-applied-configuration`, but ours). A rollout that fails re-applies it with
 * the same field manager: the cluster is back to precisely the fields the platform set for
 * the release that served before. It holds no secret values (those live in the Secret and
 * are referenced by name), so it is as safe to store as the Deployment.
 */
export const LAST_APPLIED_ANNOTATION = `${LABEL_PREFIX}/last-applied`;

/** The manifest with its own JSON (without this annotation) in the annotation; other kinds unchanged. */
export function withLastApplied(m: AppManifest): AppManifest {
  if (m.kind !== 'Deployment') return m;
  return {
    ...m,
    metadata: {
      ...m.metadata,
      annotations: { ...m.metadata.annotations, [LAST_APPLIED_ANNOTATION]: JSON.stringify(m) },
    },
  };
}

/** What the platform applied to this live object before, ready to be applied again; undefined when it carries none. */
export function lastAppliedOf(live: ObjectHead | undefined): Deployment | undefined {
  const text = live?.metadata?.annotations?.[LAST_APPLIED_ANNOTATION];
  if (!text) return undefined;
  try {
    const parsed = JSON.parse(text) as Deployment;
    return parsed.kind === 'Deployment' ? (withLastApplied(parsed) as Deployment) : undefined;
  } catch {
    return undefined; // edited by hand into something else: there is nothing safe to roll back to
  }
}
