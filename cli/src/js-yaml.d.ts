// js-yaml 4 ships no types; only what the CLI and its tests call is declared here.
declare module 'js-yaml' {
  export const CORE_SCHEMA: unknown;
  export function loadAll(text: string, iterator?: null, options?: { schema?: unknown; filename?: string }): unknown[];
  export function dump(value: unknown): string;
  export class YAMLException extends Error {
    reason: string;
    mark?: { line: number; column: number };
  }
}
