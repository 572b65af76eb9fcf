import type { z } from 'zod';
import { readersOf } from './processes.js';
import { PlatformEnv, type VariableName } from './variables.js';

/** The default a variable's schema declares, as documentation text ('' when it has none). */
function defaultOf(schema: z.ZodType): string {
  const def = schema._zod.def as { type: string; defaultValue?: unknown; innerType?: z.ZodType; in?: z.ZodType };
  // A prefault is parsed like a given value (a text that a transform turns into a list or a map).
  if (def.type === 'default' || def.type === 'prefault') return `\`${String(def.defaultValue)}\``;
  if (def.innerType) return defaultOf(def.innerType);
  if (def.in) return defaultOf(def.in);
  return '';
}

const cell = (s: string) => s.replaceAll('|', '\\|').replaceAll('\n', ' ');

/**
 * docs/configuration.md, generated from the schema (`npm run docs:config` writes it; a test
 * compares). Pure: the caller writes the text.
 */
export function renderConfigDoc(): string {
  const rows = (Object.keys(PlatformEnv.shape) as VariableName[]).map((name) => {
    const schema = PlatformEnv.shape[name] as z.ZodType;
    return `| \`${name}\` | ${defaultOf(schema) || '—'} | ${readersOf(name).join(', ')} | ${cell(schema.description ?? '')} |`;
  });
  return [
    '# Configuration',
    '',
    '<!-- Generated from core/src/config/variables.ts by `npm run docs:config`; edit the schema, not this file. -->',
    '',
    'Every platform process reads its settings from `SIDECAR_*` environment variables once, at start,',
    'validated by one schema (`core/src/config/`); a process with a bad value stops with a message naming it.',
    "An empty value counts as unset. `npm start` passes the launcher's environment on to the API, router and worker.",
    '',
    '| variable | default | read by | meaning |',
    '|---|---|---|---|',
    ...rows,
    '',
  ].join('\n');
}
