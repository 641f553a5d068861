/**
 * Read an ext2/3/4 file system inside a disk image without mounting it: e2fsprogs' debugfs, opened read-only at the
 * partition's byte offset (`IMAGE?offset=N`, the unix_io option of ext2fs_open2).
 */
import { ExitCode, IsoBuildError } from '../errors.js';
import { run, runBinary, type RunResult } from './process.js';

const DEBUGFS = 'debugfs';

export interface ExtEntry {
  name: string;
  /** The octal mode from `ls -p`, e.g. 100644 (file), 040755 (directory), 120777 (symlink). */
  mode: number;
  size: number;
}

export class ExtImage {
  constructor(
    readonly image: string,
    readonly offsetBytes: number,
  ) {}

  private get device(): string {
    return `${this.image}?offset=${this.offsetBytes}`;
  }

  private request(req: string): Promise<RunResult> {
    return named(run(DEBUGFS, ['-R', req, this.device], { what: `debugfs -R '${req}'` }));
  }

  /** A request whose stdout is file content (bytes, not text). */
  private requestBytes(req: string): Promise<Buffer> {
    return named(runBinary(DEBUGFS, ['-R', req, this.device], { what: `debugfs -R '${req}'` }));
  }

  /** The entries of a directory, or undefined when it does not exist. */
  async list(dir: string): Promise<ExtEntry[] | undefined> {
    const r = await this.request(`ls -p ${quote(dir)}`);
    if (/File not found|not a directory/i.test(r.stderr)) return undefined;
    const entries: ExtEntry[] = [];
    // /inode/mode/uid/gid/name/size/
    for (const line of r.stdout.split('\n')) {
      const m = /^\/(\d+)\/(\d+)\/\d+\/\d+\/(.*)\/(\d*)\/$/.exec(line.trim());
      if (!m || m[3] === '.' || m[3] === '..') continue;
      entries.push({ name: m[3]!, mode: parseInt(m[2]!, 8), size: m[4] ? Number(m[4]) : 0 });
    }
    return entries;
  }

  /** The entry at PATH (not following a final symlink), or undefined. */
  async entry(path: string): Promise<ExtEntry | undefined> {
    const clean = path.replace(/\/+$/, '') || '/';
    if (clean === '/') return { name: '/', mode: 0o40755, size: 0 };
    const slash = clean.lastIndexOf('/');
    const parent = clean.slice(0, slash) || '/';
    const name = clean.slice(slash + 1);
    return (await this.list(parent))?.find((e) => e.name === name);
  }

  async symlinkTarget(path: string): Promise<string | undefined> {
    const r = await this.request(`stat ${quote(path)}`);
    const m = /Fast link dest: "(.*)"/.exec(r.stdout);
    return m?.[1];
  }

  /** PATH with symlinks in its last component followed (absolute or relative targets), up to 8 levels. */
  async resolve(path: string): Promise<{ path: string; entry: ExtEntry } | undefined> {
    let current = path;
    for (let i = 0; i < 8; i++) {
      const e = await this.entry(current);
      if (!e) return undefined;
      if ((e.mode & 0o170000) !== 0o120000) return { path: current, entry: e };
      const target = await this.symlinkTarget(current);
      if (target === undefined) return undefined;
      current = target.startsWith('/') ? target : `${current.slice(0, current.lastIndexOf('/'))}/${target}`;
    }
    return undefined;
  }

  readFile(path: string): Promise<Buffer> {
    return this.requestBytes(`cat ${quote(path)}`);
  }

  async dump(path: string, to: string): Promise<void> {
    await this.request(`dump ${quote(path)} ${quote(to)}`);
  }
}

export function isDirectory(e: ExtEntry): boolean {
  return (e.mode & 0o170000) === 0o040000;
}

export function isRegular(e: ExtEntry): boolean {
  return (e.mode & 0o170000) === 0o100000;
}

/** run() reports a missing tool by its binary's name; debugfs comes in e2fsprogs. */
async function named<T>(request: Promise<T>): Promise<T> {
  try {
    return await request;
  } catch (err) {
    if (err instanceof IsoBuildError && err.exitCode === ExitCode.Usage) {
      throw new IsoBuildError('debugfs is not installed', { hint: 'install e2fsprogs', exitCode: ExitCode.Usage });
    }
    throw err;
  }
}

/** debugfs splits its request on spaces; double quotes keep a path with spaces in one argument. */
function quote(path: string): string {
  return /[\s"]/.test(path) ? `"${path.replaceAll('"', '\\"')}"` : path;
}
