import { randomInt } from 'node:crypto';
import { DomainError, ErrorCode, type ObjectMeta } from '@sidecar/core';

/** Kubernetes' generateName alphabet (no vowels, no look-alikes) and suffix length. */
const SUFFIX_ALPHABET = 'bcdfghjklmnpqrstvwxz2456789';
const SUFFIX_LENGTH = 5;
const MAX_NAME = 63;

export function randomSuffix(): string {
  let s = '';
  for (let i = 0; i < SUFFIX_LENGTH; i++) s += SUFFIX_ALPHABET[randomInt(SUFFIX_ALPHABET.length)]!;
  return s;
}

/** As the apiserver's generateName: the base cut to 58 characters, then a random suffix. */
export function generateName(base: string): string {
  return `${base.slice(0, MAX_NAME - SUFFIX_LENGTH)}${randomSuffix()}`;
}

/** DNS-1123 label (what validatePod requires of metadata.name). */
export const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** metadata with `name` set: the given name, else generateName plus a random suffix (as the apiserver does). */
export function resolveName(v: unknown, path: string): ObjectMeta {
  const required = () =>
    new DomainError(ErrorCode.invalidManifest, `${path}.name: Required value: name or generateName is required`);
  if (v === undefined || v === null) throw required();
  if (typeof v !== 'object' || Array.isArray(v))
    throw new DomainError(ErrorCode.invalidManifest, `${path}: Invalid value: must be an object`);
  const { generateName: base, ...rest } = v as Record<string, unknown>;
  if (rest.name !== undefined) return rest as ObjectMeta;
  if (base === undefined || base === '') throw required();
  if (typeof base !== 'string')
    throw new DomainError(ErrorCode.invalidManifest, `${path}.generateName: Invalid value: must be a string`);
  return { ...rest, name: generateName(base) } as ObjectMeta;
}
