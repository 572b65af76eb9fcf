import { describe, expect, it, vi } from 'vitest';
import type { Log } from '@sidecar/core';
import { throttledErrorLog } from './throttled-error-log.js';

describe('throttledErrorLog', () => {
  it('logs each distinct error once per window, then again with the count of repeats', () => {
    vi.useFakeTimers();
    try {
      const lines: Array<{ fields: object; msg: string }> = [];
      const keep = (fields: object, msg: string) => void lines.push({ fields, msg });
      const log: Log = { info: keep, warn: keep, error: keep };
      const onError = throttledErrorLog(log, 'queue error', 10_000);
      for (let i = 0; i < 2000; i++) onError(new Error('MISCONF Errors writing to the AOF file'));
      onError(new Error('something else'));
      expect(lines.map((l) => l.msg)).toEqual(['queue error', 'queue error']);
      vi.advanceTimersByTime(10_000);
      onError(new Error('MISCONF Errors writing to the AOF file'));
      expect(lines).toHaveLength(3);
      expect(lines[2]!.fields).toMatchObject({ repeatsSinceLastLine: 1999 });
    } finally {
      vi.useRealTimers();
    }
  });
});
