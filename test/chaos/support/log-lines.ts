/**
 * The lines of a platform's output that report an error: JSON log lines at level error or fatal
 * (pino's 50 and 60), and plain lines (a child's stray output) that name an error.
 */
export function errorLines(lines: string[]): string[] {
  return lines.filter((line) => {
    if (line.startsWith('{')) {
      try {
        const level = (JSON.parse(line) as { level?: unknown }).level;
        return typeof level === 'number' && level >= 50;
      } catch {
        // not JSON after all: judged as plain text below
      }
    }
    return /\berror\b|unhandled|ECONNREFUSED|ECONNRESET/i.test(line);
  });
}
