import { CORE_SCHEMA, YAMLException, loadAll } from 'js-yaml';

/**
 * The one place that parses YAML. The core schema only (null, bool, int, float, str): no
 * timestamps or other YAML 1.1 types a Kubernetes manifest never means.
 */
export function parseYamlDocuments(text: string): { documents: unknown[] } | { error: string } {
  try {
    // Empty documents (a trailing `---`) are not manifests.
    return { documents: loadAll(text, null, { schema: CORE_SCHEMA }).filter((d) => d !== null && d !== undefined) };
  } catch (e) {
    if (!(e instanceof YAMLException)) throw e;
    const where = e.mark ? ` at line ${e.mark.line + 1}, column ${e.mark.column + 1}` : '';
    return { error: `${e.reason}${where}` };
  }
}
