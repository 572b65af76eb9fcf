/**
 * What the log shipper must print, written with Node's own Buffer.toString and JSON.stringify:
 * the rules of the Node shipper it replaced (line splitting, the 8 KiB pieces, the 15 KiB JSON
 * cut), kept here as the reference the compiled program is compared with byte for byte.
 */
export const MAX_LINE_BYTES = 8 * 1024;
export const MAX_JSON_CHARS = 15 * 1024;

/** Complete lines of `buf` (a trailing `\r` dropped; pieces of MAX_LINE_BYTES at character starts), the last one too. */
export function splitAll(buf: Buffer): string[] {
  const lines: string[] = [];
  let start = 0;
  for (;;) {
    const nl = buf.indexOf(0x0a, start);
    const end = nl < 0 ? buf.length : nl;
    if (end - start > MAX_LINE_BYTES) {
      let cut = start + MAX_LINE_BYTES;
      while (cut > start && ((buf[cut] ?? 0) & 0xc0) === 0x80) cut--;
      if (cut === start) cut = start + MAX_LINE_BYTES;
      lines.push(buf.toString('utf8', start, cut));
      start = cut;
      continue;
    }
    if (nl < 0 && start >= buf.length) return lines;
    lines.push(buf.toString('utf8', start, end > start && buf[end - 1] === 0x0d ? end - 1 : end));
    if (nl < 0) return lines;
    start = nl + 1;
  }
}

/** One JSON object per line, cut (ending in `…`) while its JSON is longer than MAX_JSON_CHARS. */
export function encode(l: { file: string; line: string; ts: string }): string {
  let json = JSON.stringify(l);
  let line = l.line;
  while (json.length > MAX_JSON_CHARS && line.length > 0) {
    line = line.slice(0, Math.floor(line.length * 0.9));
    json = JSON.stringify({ ...l, line: `${line}…` });
  }
  return `${json}\n`;
}
