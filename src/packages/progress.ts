/**
 * Progress of the payload's transfers (chart/file downloads, image pulls): in a terminal one status line, redrawn at
 * most every STATUS_MS, with bytes, rate and ETA of what is running; elsewhere (CI, a pipe, a log) plain lines only:
 * one when a transfer starts, one when it ends, and one every PLAIN_MS for a long one. Cache hits say "cached".
 */

/** Where progress goes; `status` only where a line can be redrawn in place (a terminal). */
export interface ProgressSink {
  line(text: string): void;
  status?(text: string): void;
}

export interface Transfer {
  /** Bytes so far and the total, when known. */
  update(done: number, total?: number): void;
  /** The transfer ended: say so (size, time, rate). */
  finish(): void;
  /** The transfer failed: drop it from the status without a line (the error says what happened). */
  fail(): void;
}

const STATUS_MS = 250;
const PLAIN_MS = 15_000;

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v < 10 ? v.toFixed(1) : Math.round(v)} ${units[i]}`;
}

export function formatRate(bytesPerSecond: number): string {
  return `${formatBytes(Math.round(bytesPerSecond))}/s`;
}

export function formatDuration(seconds: number): string {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

interface Running {
  label: string;
  started: number;
  done: number;
  total?: number;
  lastPlain: number;
}

/** `label: 45 MiB of 120 MiB (37%), 3.1 MiB/s, ETA 24s` (what is known of it). */
export function describeTransfer(t: { label: string; done: number; total?: number }, seconds: number): string {
  const rate = seconds > 0 ? t.done / seconds : 0;
  const parts = [t.total !== undefined && t.total > 0 ? `${formatBytes(t.done)} of ${formatBytes(t.total)} (${Math.floor((100 * t.done) / t.total)}%)` : formatBytes(t.done)];
  if (rate > 0) parts.push(formatRate(rate));
  if (rate > 0 && t.total !== undefined && t.total > t.done) parts.push(`ETA ${formatDuration((t.total - t.done) / rate)}`);
  return `${t.label}: ${parts.join(', ')}`;
}

export class TransferProgress {
  private readonly running = new Set<Running>();
  private lastStatus = 0;

  constructor(
    private readonly sink: ProgressSink,
    private readonly now: () => number = () => Date.now(),
  ) {}

  /** A plain progress line (not a transfer). */
  say(text: string): void {
    this.sink.line(text);
    this.redraw(true);
  }

  cached(label: string): void {
    this.say(`cached ${label}`);
  }

  start(label: string, total?: number): Transfer {
    const t: Running = { label, started: this.now(), done: 0, total, lastPlain: this.now() };
    this.running.add(t);
    if (this.sink.status) this.redraw(true);
    else this.sink.line(`fetching ${label}${total !== undefined ? ` (${formatBytes(total)})` : ''}`);
    return {
      update: (done, total) => {
        t.done = done;
        if (total !== undefined) t.total = total;
        if (this.sink.status) this.redraw(false);
        else if (this.now() - t.lastPlain >= PLAIN_MS) {
          t.lastPlain = this.now();
          this.sink.line(`  ${describeTransfer(t, (this.now() - t.started) / 1000)}`);
        }
      },
      finish: () => {
        this.running.delete(t);
        const seconds = (this.now() - t.started) / 1000;
        const rate = seconds > 0.05 ? `, ${formatRate(t.done / seconds)}` : '';
        this.sink.line(`fetched ${label}: ${formatBytes(t.done)} in ${seconds.toFixed(1)}s${rate}`);
        this.redraw(true);
      },
      fail: () => {
        this.running.delete(t);
        this.redraw(true);
      },
    };
  }

  /** The status line: every running transfer, the newest last, with the total rate. */
  private redraw(force: boolean): void {
    if (!this.sink.status) return;
    const now = this.now();
    if (!force && now - this.lastStatus < STATUS_MS) return;
    this.lastStatus = now;
    const all = [...this.running];
    this.sink.status(all.map((t) => describeTransfer(t, (now - t.started) / 1000)).join(' | '));
  }
}

/**
 * The CLI's sink on stderr: in a terminal (and not CI) the status line is redrawn in place and cleared before each
 * plain line; elsewhere plain lines only. `quiet`: nothing.
 */
export function stderrSink(opts: { quiet: boolean; live: boolean; stream?: NodeJS.WriteStream }): ProgressSink {
  const out = opts.stream ?? process.stderr;
  if (opts.quiet) return { line: () => undefined };
  if (!opts.live) return { line: (text) => void out.write(`${text}\n`) };
  let shown = false;
  const clear = (): void => {
    if (shown) out.write('\r\x1b[K');
    shown = false;
  };
  return {
    line: (text) => {
      clear();
      out.write(`${text}\n`);
    },
    status: (text) => {
      clear();
      if (!text) return;
      const width = Math.max(20, (out.columns || 100) - 1);
      out.write(text.length > width ? `${text.slice(0, width - 1)}…` : text);
      shown = true;
    },
  };
}
