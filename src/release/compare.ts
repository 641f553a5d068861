/**
 * Why two ISOs differ: the first differing file of their trees (read back with xorriso), and when that is a squashfs,
 * the first differing file inside it (unpacked with unsquashfs). Used by `iso-build build --check-reproducible`.
 */
import { createHash } from 'node:crypto';
import { closeSync, lstatSync, mkdirSync, openSync, readdirSync, readFileSync, readlinkSync, readSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { squashfsToTar } from '../tools/sqfs2tar.js';
import { unsquash } from '../tools/squashfs.js';
import { extractIsoTree } from '../tools/xorriso.js';
import type { BuildLog } from '../build-log.js';

interface Entry {
  kind: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  link?: string;
}

function listTree(root: string): Map<string, Entry> {
  const out = new Map<string, Entry>();
  const walk = (dir: string, rel: string): void => {
    for (const name of readdirSync(dir).sort()) {
      const path = join(dir, name);
      const r = `${rel}/${name}`;
      const st = lstatSync(path);
      const kind = st.isDirectory() ? 'directory' : st.isSymbolicLink() ? 'symlink' : st.isFile() ? 'file' : 'special file';
      out.set(r, {
        kind,
        mode: st.mode & 0o7777,
        uid: st.uid,
        gid: st.gid,
        size: st.isFile() ? st.size : 0,
        mtime: Math.floor(st.mtimeMs / 1000),
        link: st.isSymbolicLink() ? readlinkSync(path) : undefined,
      });
      if (st.isDirectory()) walk(path, r);
    }
  };
  walk(root, '');
  return out;
}

function hashFile(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

function isSquashfs(path: string): boolean {
  const fd = openSync(path, 'r');
  try {
    const buf = Buffer.alloc(4);
    readSync(fd, buf, 0, 4, 0);
    return buf.toString('latin1') === 'hsqs';
  } finally {
    closeSync(fd);
  }
}

/** The first difference between two trees, in sorted path order; undefined when they are identical. */
function firstTreeDifference(a: string, b: string, opts: { metadata: boolean }): { path: string; what: string } | undefined {
  const la = listTree(a);
  const lb = listTree(b);
  const paths = [...new Set([...la.keys(), ...lb.keys()])].sort();
  for (const path of paths) {
    const ea = la.get(path);
    const eb = lb.get(path);
    if (!ea || !eb) return { path, what: `only in the ${ea ? 'first' : 'second'} build` };
    if (ea.kind !== eb.kind) return { path, what: `${ea.kind} vs ${eb.kind}` };
    if (ea.link !== eb.link) return { path, what: `symlink target ${ea.link} vs ${eb.link}` };
    if (ea.kind === 'file' && (ea.size !== eb.size || hashFile(join(a, path)) !== hashFile(join(b, path)))) {
      return { path, what: `content (${ea.size} vs ${eb.size} bytes)` };
    }
    if (!opts.metadata) continue;
    if (ea.mode !== eb.mode) return { path, what: `mode ${ea.mode.toString(8)} vs ${eb.mode.toString(8)}` };
    if (ea.uid !== eb.uid || ea.gid !== eb.gid) return { path, what: `owner ${ea.uid}:${ea.gid} vs ${eb.uid}:${eb.gid}` };
    if (ea.mtime !== eb.mtime && ea.kind !== 'symlink') {
      return { path, what: `mtime ${new Date(ea.mtime * 1000).toISOString()} vs ${new Date(eb.mtime * 1000).toISOString()}` };
    }
  }
  return undefined;
}

/** Offset of the first differing byte of two files (or the shorter length), undefined when equal. */
function firstDifferingByte(a: string, b: string): number | undefined {
  const fa = openSync(a, 'r');
  const fb = openSync(b, 'r');
  try {
    const [ba, bb] = [Buffer.alloc(1 << 20), Buffer.alloc(1 << 20)];
    for (let offset = 0; ; offset += ba.length) {
      const na = readSync(fa, ba, 0, ba.length, offset);
      const nb = readSync(fb, bb, 0, bb.length, offset);
      const n = Math.min(na, nb);
      for (let i = 0; i < n; i++) if (ba[i] !== bb[i]) return offset + i;
      if (na !== nb) return offset + n;
      if (na === 0) return undefined;
    }
  } finally {
    closeSync(fa);
    closeSync(fb);
  }
}

/** A sentence naming the first differing file of two ISOs. `scratch` is created and removed. */
export async function firstDifference(isoA: string, isoB: string, scratch: string, log?: BuildLog): Promise<string> {
  rmSync(scratch, { recursive: true, force: true });
  mkdirSync(scratch, { recursive: true });
  try {
    const [ta, tb] = [join(scratch, 'first'), join(scratch, 'second')];
    await extractIsoTree(isoA, ta, { log });
    await extractIsoTree(isoB, tb, { log });
    // Contents first (the usual culprit), then modes and times as Rock Ridge records them.
    const diff = firstTreeDifference(ta, tb, { metadata: false }) ?? firstTreeDifference(ta, tb, { metadata: true });
    if (!diff) {
      const offset = firstDifferingByte(isoA, isoB);
      return `every file is identical; the images first differ at byte ${offset} (ISO 9660 metadata or boot records)`;
    }
    const inIso = diff.path.replace(/^\//, '');
    const [fa, fb] = [join(ta, diff.path), join(tb, diff.path)];
    if (diff.what.startsWith('content') && isSquashfs(fa) && isSquashfs(fb)) {
      const [ra, rb] = [join(scratch, 'rootfs-first'), join(scratch, 'rootfs-second')];
      await unsquash(fa, ra, { log });
      await unsquash(fb, rb, { log });
      const inner = firstTreeDifference(ra, rb, { metadata: false }) ?? firstTreeDifference(ra, rb, { metadata: true });
      if (inner) return `first differing file: ${inner.path} in ${inIso} (${inner.what})`;
      const xattrs = firstXattrDifference(
        await squashfsXattrs(fa, join(scratch, 'first.tar'), log),
        await squashfsXattrs(fb, join(scratch, 'second.tar'), log),
      );
      if (xattrs) return `first differing file: ${xattrs.path} in ${inIso} (${xattrs.what})`;
      return `first differing file: ${inIso} (the files in it have the same content, modes, owners and times: the difference is in xattrs, their order, or the squashfs layout)`;
    }
    return `first differing file: ${inIso} (${diff.what})`;
  } finally {
    rmSync(scratch, { recursive: true, force: true });
  }
}

/** Extended attributes per path (name and value as hex, in stored order) of a squashfs, via sqfs2tar's pax headers. */
async function squashfsXattrs(image: string, tarFile: string, log?: BuildLog): Promise<Map<string, [string, string][]>> {
  await squashfsToTar(image, tarFile, log);
  try {
    return tarXattrs(tarFile);
  } finally {
    rmSync(tarFile, { force: true });
  }
}

/** Reads only the headers of a tar file: SCHILY.xattr.* records of pax headers, by the entry they precede. */
export function tarXattrs(tarFile: string): Map<string, [string, string][]> {
  const out = new Map<string, [string, string][]>();
  const fd = openSync(tarFile, 'r');
  try {
    const header = Buffer.alloc(512);
    let pos = 0;
    let pending: { path?: string; xattrs: [string, string][] } = { xattrs: [] };
    let longName: string | undefined;
    while (readSync(fd, header, 0, 512, pos) === 512 && header.some((b) => b !== 0)) {
      const size = parseInt(header.subarray(124, 136).toString('latin1').replace(/\0.*$/, '').trim() || '0', 8);
      const type = String.fromCharCode(header[156]!);
      const data = (): Buffer => {
        const buf = Buffer.alloc(size);
        readSync(fd, buf, 0, size, pos + 512);
        return buf;
      };
      if (type === 'x') {
        const buf = data();
        for (let i = 0; i < buf.length; ) {
          const space = buf.indexOf(0x20, i);
          const len = Number(buf.subarray(i, space).toString('latin1'));
          if (!len) break;
          const record = buf.subarray(space + 1, i + len - 1);
          const eq = record.indexOf(0x3d);
          const key = record.subarray(0, eq).toString('utf8');
          const value = record.subarray(eq + 1);
          if (key.startsWith('SCHILY.xattr.')) pending.xattrs.push([key.slice('SCHILY.xattr.'.length), value.toString('hex')]);
          else if (key === 'path') pending.path = value.toString('utf8');
          i += len;
        }
      } else if (type === 'L') {
        longName = data().toString('utf8').replace(/\0.*$/s, '');
      } else if (type !== 'g') {
        const field = (a: number, b: number): string => header.subarray(a, b).toString('utf8').replace(/\0.*$/s, '');
        const prefix = field(345, 500);
        const name = pending.path ?? longName ?? (prefix ? `${prefix}/${field(0, 100)}` : field(0, 100));
        const path = `/${name.replace(/^\.\/?/, '').replace(/\/$/, '')}`;
        if (pending.xattrs.length) out.set(path, pending.xattrs);
        pending = { xattrs: [] };
        longName = undefined;
      }
      pos += 512 + Math.ceil(size / 512) * 512;
    }
  } finally {
    closeSync(fd);
  }
  return out;
}

export function firstXattrDifference(
  a: Map<string, [string, string][]>,
  b: Map<string, [string, string][]>,
): { path: string; what: string } | undefined {
  for (const path of [...new Set([...a.keys(), ...b.keys()])].sort()) {
    const [xa, xb] = [a.get(path) ?? [], b.get(path) ?? []];
    if (JSON.stringify(xa) === JSON.stringify(xb)) continue;
    const [ma, mb] = [new Map(xa), new Map(xb)];
    const names = [...new Set([...ma.keys(), ...mb.keys()])].filter((n) => ma.get(n) !== mb.get(n)).sort();
    return {
      path,
      what: names.length
        ? `xattr ${names.map((n) => `${n} ${ma.has(n) ? (mb.has(n) ? 'differs' : 'only in the first build') : 'only in the second build'}`).join(', ')}`
        : 'the same xattrs in another order',
    };
  }
  return undefined;
}
