/** `unsquashfs -lln` lines for our own listings, so the two can be compared (and read) the same way. */
import type { SquashStat } from './squashfs.js';

const TYPE_CHAR: Record<SquashStat['type'], string> = { dir: 'd', file: '-', symlink: 'l', blockdev: 'b', chardev: 'c', fifo: 'p', socket: 's' };

const modeStrings = new Map<number, string>();

export function modeString(st: Pick<SquashStat, 'type' | 'mode'>): string {
  // st_mode carries the type bits too, so it alone keys the cache (a tree has a handful of distinct modes).
  let text = modeStrings.get(st.mode);
  if (text === undefined) {
    text = formatMode(st);
    if (modeStrings.size < 4096) modeStrings.set(st.mode, text);
  }
  return text;
}

function formatMode(st: Pick<SquashStat, 'type' | 'mode'>): string {
  const m = st.mode;
  const rwx = (shift: number, special: number, ch: string): string => {
    const x = (m >> shift) & 1;
    const exec = m & special ? (x ? ch : ch.toUpperCase()) : x ? 'x' : '-';
    return `${(m >> (shift + 2)) & 1 ? 'r' : '-'}${(m >> (shift + 1)) & 1 ? 'w' : '-'}${exec}`;
  };
  return TYPE_CHAR[st.type] + rwx(6, 0o4000, 's') + rwx(3, 0o2000, 's') + rwx(0, 0o1000, 't');
}

/** One line as unsquashfs 4.5 prints it with -lln (numeric owners, local time), path as given. */
export function llnLine(path: string, st: SquashStat): string {
  const owner = `${st.uid}/${st.gid}`;
  const pad = 26 - owner.length; // unsquashfs pads uid + gid + size to 25 characters
  const size = st.rdev ? `${String(st.rdev.major).padStart(pad - 4)},${String(st.rdev.minor).padStart(3)}` : String(st.size).padStart(pad);
  return `${modeString(st)} ${owner} ${size} ${localMinute(st.mtime)} ${path}${st.type === 'symlink' ? ` -> ${st.target}` : ''}`;
}

let lastTime = NaN;
let lastText = '';

/** "YYYY-MM-DD HH:MM" in local time; images mostly share one mtime, so the last one is remembered. */
function localMinute(seconds: number): string {
  if (seconds !== lastTime) {
    const d = new Date(seconds * 1000);
    const p = (n: number): string => String(n).padStart(2, '0');
    lastText = `${d.getFullYear()}-${p(d.getMonth() + 1)}-${p(d.getDate())} ${p(d.getHours())}:${p(d.getMinutes())}`;
    lastTime = seconds;
  }
  return lastText;
}
