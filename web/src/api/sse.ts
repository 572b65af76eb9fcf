import { authHeaders, handleUnauthorized, problemOf } from './client.js';

export interface SseEvent {
  event: string;
  data: string;
}

/**
 * Reads a server-sent-events response with fetch, because EventSource cannot
 * send an Authorization header. Parses the stream as a stream: events may be
 * split across chunks and chunks may hold several events.
 */
export async function readSse(url: string, onEvent: (e: SseEvent) => void, signal: AbortSignal): Promise<void> {
  const res = await fetch(url, { headers: authHeaders({ accept: 'text/event-stream' }), signal });
  if (!res.ok) {
    const err = await problemOf(res);
    handleUnauthorized(err);
    throw err;
  }
  if (!res.body) throw new Error('the browser gave no response stream');
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value.replace(/\r\n?/g, '\n');
    let end: number;
    while ((end = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      const parsed = parseBlock(block);
      if (parsed) onEvent(parsed);
    }
  }
}

function parseBlock(block: string): SseEvent | null {
  let event = 'message';
  const data: string[] = [];
  for (const line of block.split('\n')) {
    if (line === '' || line.startsWith(':')) continue; // comments are keep-alives
    const colon = line.indexOf(':');
    const field = colon < 0 ? line : line.slice(0, colon);
    const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
    if (field === 'event') event = value;
    else if (field === 'data') data.push(value);
  }
  return data.length ? { event, data: data.join('\n') } : null;
}
