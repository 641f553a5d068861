/**
 * Where `packages.system` is resolved from: the profile's sources (with `host-mirror` read from the build host's apt
 * configuration or $ISO_BUILD_MIRROR, never written into the repository), else the target's own apt sources.
 * Keyring paths always point into the target rootfs: the build host's keys are never trusted for the target.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { usageError } from '../errors.js';
import { resolveInRoot } from '../rootfs-path.js';
import type { PackageSource } from '../profile/schema.js';

export const HOST_MIRROR = 'host-mirror';

function readIfExists(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

function listDir(dir: string): string[] {
  try {
    return readdirSync(dir).sort();
  } catch {
    return [];
  }
}

/** The first non-security Debian mirror in an apt configuration directory (deb822 .sources first, then .list). */
export function mirrorFromAptConfig(etcApt: string): string | undefined {
  for (const name of listDir(join(etcApt, 'sources.list.d')).filter((n) => n.endsWith('.sources'))) {
    for (const stanza of readIfExists(join(etcApt, 'sources.list.d', name)).split(/\n\s*\n/)) {
      const field = (key: string): string | undefined => new RegExp(`^${key}:[ \\t]*(.*)$`, 'mi').exec(stanza)?.[1]?.trim();
      if (field('Enabled') === 'no') continue;
      const types = field('Types')?.split(/\s+/) ?? [];
      const suites = field('Suites') ?? '';
      const uri = field('URIs')?.split(/\s+/)[0];
      if (types.includes('deb') && !/-security\b/.test(suites) && uri) return uri;
    }
  }
  const lists = [join(etcApt, 'sources.list'), ...listDir(join(etcApt, 'sources.list.d')).filter((n) => n.endsWith('.list')).map((n) => join(etcApt, 'sources.list.d', n))];
  for (const file of lists) {
    for (const line of readIfExists(file).split('\n')) {
      const words = line.replace(/\[[^\]]*\]/, ' ').trim().split(/\s+/);
      if (words[0] === 'deb' && words[1] && !/-security\b/.test(line)) return words[1];
    }
  }
  return undefined;
}

export function hostMirror(): string {
  const fromEnv = process.env.ISO_BUILD_MIRROR;
  if (fromEnv) return fromEnv;
  const found = mirrorFromAptConfig('/etc/apt');
  if (!found) {
    throw usageError(
      'packages.sources: "host-mirror" but the build host has no Debian mirror in /etc/apt/sources.list(.d)',
      'set ISO_BUILD_MIRROR=<mirror URL> or give the URL in packages.sources[].uri',
    );
  }
  return found;
}

/** One-line sources.list entries for the profile's sources; keyrings resolved inside the rootfs. */
export function profileSourcesList(sources: readonly PackageSource[], rootfs: string, arch: string): string {
  return sources
    .map((s) => {
      const uri = s.uri === HOST_MIRROR ? hostMirror() : s.uri;
      const options = [`arch=${arch}`];
      if (s.signedBy) options.push(`signed-by=${resolveInRoot(rootfs, s.signedBy)}`);
      return s.suites.map((suite) => `deb [${options.join(' ')}] ${uri} ${suite} ${s.components.join(' ')}\n`).join('');
    })
    .join('');
}

/** The sources files of the target, keyring paths rewritten to point into the rootfs: [file name, content]. */
export function targetSources(rootfs: string): { name: string; text: string }[] {
  const etc = resolveInRoot(rootfs, '/etc/apt');
  const files: { name: string; text: string }[] = [];
  const rewriteOne = (p: string): string => resolveInRoot(rootfs, p);
  const main = join(etc, 'sources.list');
  if (existsSync(main)) files.push({ name: 'sources.list', text: readIfExists(main) });
  for (const n of listDir(join(etc, 'sources.list.d')).filter((x) => x.endsWith('.list') || x.endsWith('.sources'))) {
    files.push({ name: n, text: readIfExists(join(etc, 'sources.list.d', n)) });
  }
  return files.map(({ name, text }) => ({
    name,
    text: text
      .replace(/signed-by=(\/[^\s\]]+)/g, (_m, p: string) => `signed-by=${rewriteOne(p)}`)
      .replace(/^(Signed-By:[ \t]*)(\/\S+)[ \t]*$/gim, (_m, k: string, p: string) => `${k}${rewriteOne(p)}`),
  }));
}

/** True when a sources text has at least one deb entry (the fixture's rootfs has none). */
export function hasDebEntries(files: readonly { text: string }[]): boolean {
  return files.some(({ text }) => /^\s*deb\s/m.test(text) || /^Types:.*\bdeb\b/im.test(text));
}
