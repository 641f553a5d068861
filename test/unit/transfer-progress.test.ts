import { describe, expect, it } from 'vitest';
import { describeTransfer, formatBytes, formatDuration, TransferProgress, type ProgressSink } from '../../src/packages/progress.js';

function recorder(live: boolean): { sink: ProgressSink; lines: string[]; statuses: string[] } {
  const lines: string[] = [];
  const statuses: string[] = [];
  return { sink: { line: (t) => lines.push(t), ...(live ? { status: (t: string) => statuses.push(t) } : {}) }, lines, statuses };
}

describe('transfer progress', () => {
  it('formats sizes, durations and a transfer with rate and ETA', () => {
    expect(formatBytes(512)).toBe('512 B');
    expect(formatBytes(1536)).toBe('1.5 KiB');
    expect(formatBytes(150 * 1048576)).toBe('150 MiB');
    expect(formatDuration(42)).toBe('42s');
    expect(formatDuration(125)).toBe('2m05s');
    expect(formatDuration(7300)).toBe('2h01m');
    expect(describeTransfer({ label: 'a.tgz', done: 10 << 20, total: 40 << 20 }, 5)).toBe('a.tgz: 10 MiB of 40 MiB (25%), 2.0 MiB/s, ETA 15s');
    expect(describeTransfer({ label: 'img', done: 3 << 20 }, 0)).toBe('img: 3.0 MiB');
  });

  it('plain lines (CI): start, a line every 15 s, the end; "cached" for a cache hit', () => {
    let now = 0;
    const r = recorder(false);
    const p = new TransferProgress(r.sink, () => now);
    p.cached('hello-0.1.0.tgz');
    const t = p.start('big.bin', 8 << 20);
    now = 1000;
    t.update(1 << 20);
    now = 16_000;
    t.update(4 << 20);
    now = 20_000;
    t.update(8 << 20);
    t.finish();
    expect(r.lines).toEqual([
      'cached hello-0.1.0.tgz',
      'fetching big.bin (8.0 MiB)',
      '  big.bin: 4.0 MiB of 8.0 MiB (50%), 256 KiB/s, ETA 16s',
      'fetched big.bin: 8.0 MiB in 20.0s, 410 KiB/s',
    ]);
  });

  it('in a terminal: a status line of every running transfer, redrawn at most every 250 ms, cleared at the end', () => {
    let now = 0;
    const r = recorder(true);
    const p = new TransferProgress(r.sink, () => now);
    const a = p.start('a', 100);
    const b = p.start('b');
    now = 100;
    a.update(10);
    now = 1000;
    a.update(50);
    b.update(2048); // within 250 ms of the last redraw: not drawn
    b.fail();
    a.finish();
    expect(r.statuses).toEqual(['a: 0 B of 100 B (0%)', 'a: 0 B of 100 B (0%) | b: 0 B', 'a: 50 B of 100 B (50%), 50 B/s, ETA 1s | b: 0 B', 'a: 50 B of 100 B (50%), 50 B/s, ETA 1s', '']);
    expect(r.lines).toEqual(['fetched a: 50 B in 1.0s, 50 B/s']);
  });
});
