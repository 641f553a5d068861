/**
 * Stage: reads the profile's overlay and the rootfs view; copies the overlay directories into the rootfs or the ISO tree,
 * modes kept (setuid/setgid bits too: the overlay is the profile author's, and a setuid helper is a thing to ship; each
 * one is named in the build log), owners as the profile says. Device nodes, FIFOs and sockets are refused (exit 2): make
 * them with a chroot command if the system needs them. Into the ISO tree, a symlink that leads out of it is refused
 * (the medium is mounted at /cdrom: an absolute link there points at the installing host).
 */
import { chmodSync, copyFileSync, lchownSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, symlinkSync, type Stats } from 'node:fs';
import { join, posix } from 'node:path';
import { ExitCode, IsoBuildError } from '../errors.js';
import { resolveInRoot } from '../rootfs-path.js';
import { escapingLinkError, staysInside, unlistableName, unlistableNameError } from '../safe-path.js';
import type { OverlayMapping } from '../profile/schema.js';
import type { BuildInputs } from '../context.js';
import type { Reporter } from '../pipeline/reporter.js';

export function applyOverlayStage(ctx: BuildInputs, rootfsView: string, task: Reporter): void {
  let files = 0;
  for (const [i, mapping] of ctx.profile.overlay.entries()) {
    const root = mapping.into === 'iso' ? ctx.work.tree : rootfsView;
    const owner = resolveOwner(mapping, root, `overlay[${i}].owner`);
    files += copyTree(mapping.source, root, mapping.target, owner, { intoIso: mapping.into === 'iso', log: (line) => ctx.log.line(line) });
    ctx.log.line(`overlay ${mapping.source} -> ${mapping.into}:${mapping.target} (${owner === 'keep' ? 'owners kept' : `${owner.uid}:${owner.gid}`})`);
  }
  task.title = `Apply overlay files: ${files} entries`;
}

type Owner = { uid: number; gid: number } | 'keep';

function resolveOwner(mapping: OverlayMapping, root: string, key: string): Owner {
  if (mapping.owner === 'keep') return 'keep';
  const [user = 'root', group = user] = mapping.owner.split(':');
  return { uid: lookupId(root, 'etc/passwd', user, key), gid: lookupId(root, 'etc/group', group, key) };
}

/** Names are looked up in the target's own /etc/passwd and /etc/group, never the build host's. */
function lookupId(root: string, table: string, name: string, key: string): number {
  if (/^\d+$/.test(name)) return Number(name);
  if (name === 'root') return 0;
  let text = '';
  try {
    text = readFileSync(resolveInRoot(root, table), 'utf8');
  } catch {
    /* no table: only numeric ids and root work */
  }
  for (const line of text.split('\n')) {
    const [n, , id] = line.split(':');
    if (n === name && id !== undefined) return Number(id);
  }
  throw new IsoBuildError(`${key}: "${name}" is not in the target's /${table}`, {
    hint: 'use a numeric id, or a user/group that exists in the base rootfs',
    exitCode: ExitCode.Usage,
  });
}

/** Copy `source` to `target` inside `root`; returns the number of entries written. */
function copyTree(source: string, root: string, target: string, owner: Owner, opts: { intoIso: boolean; log: (line: string) => void }): number {
  let count = 0;
  const walk = (srcDir: string, destInRoot: string): void => {
    const destDir = resolveInRoot(root, destInRoot);
    ensureDir(destDir, lstatSync(srcDir), owner);
    for (const name of readdirSync(srcDir).sort()) {
      const src = join(srcDir, name);
      const st = lstatSync(src);
      const inRoot = posix.join(destInRoot, name);
      if (opts.intoIso && unlistableName(name)) throw unlistableNameError(`overlay ${source} into the ISO tree`, inRoot);
      if (st.isDirectory()) {
        walk(src, inRoot);
        continue;
      }
      // Replace the entry itself; never write through a symlink that is already there.
      const dest = resolveInRoot(root, inRoot, false);
      const existing = lstatIfExists(dest);
      if (existing?.isDirectory()) {
        throw new IsoBuildError(`overlay file ${src} would replace the directory ${inRoot}`, { exitCode: ExitCode.Usage });
      }
      if (existing) rmSync(dest);
      if (st.isSymbolicLink()) {
        const link = readlinkSync(src);
        if (opts.intoIso && leadsOut(inRoot, link)) throw escapingLinkError(`overlay ${source} into the ISO tree`, { path: inRoot.replace(/^\/+/, ''), target: link });
        symlinkSync(link, dest);
      } else if (st.isFile()) {
        copyFileSync(src, dest);
        // chown clears setuid/setgid (even for root, chown(2)): owner first, mode after
        setOwner(dest, st, owner);
        chmodSync(dest, st.mode & 0o7777);
        if (st.mode & 0o6000) opts.log(`overlay: ${inRoot} keeps its ${st.mode & 0o4000 ? 'setuid' : 'setgid'} bit (mode ${(st.mode & 0o7777).toString(8)})`);
      } else {
        throw new IsoBuildError(`overlay entry ${src} is not a file, directory or symlink`, {
          hint: 'device nodes, FIFOs and sockets are not copied from an overlay: create them with a chroot command (mknod) if the system needs them',
          exitCode: ExitCode.Usage,
        });
      }
      if (!st.isFile()) setOwner(dest, st, owner);
      count++;
    }
    count++;
  };
  walk(source, target);
  return count;
}

function ensureDir(dest: string, srcStat: Stats, owner: Owner): void {
  const existing = lstatIfExists(dest);
  if (existing && !existing.isDirectory()) rmSync(dest);
  if (!existing || !existing.isDirectory()) {
    mkdirSync(dest, { recursive: true });
    setOwner(dest, srcStat, owner);
    chmodSync(dest, srcStat.mode & 0o7777);
  }
}

function setOwner(path: string, srcStat: Stats, owner: Owner): void {
  if (owner === 'keep') lchownSync(path, srcStat.uid, srcStat.gid);
  else lchownSync(path, owner.uid, owner.gid);
}

function lstatIfExists(path: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch {
    return undefined;
  }
}

/** Whether a symlink at `inRoot` with target `link` leads out of the tree (absolute, or `..` past its root). */
function leadsOut(inRoot: string, link: string): boolean {
  const depth = posix.dirname(posix.join('/', inRoot)).split('/').filter(Boolean).length;
  return link.startsWith('/') || !staysInside(depth, link);
}
