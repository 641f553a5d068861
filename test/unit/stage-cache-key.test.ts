/** The stage-cache key of the customized rootfs: derived from the schema's stageCache fields and what the cached stages see. */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { workPaths, type BuildInputs } from '../../src/context.js';
import { loadProfile } from '../../src/profile/load.js';
import { rootfsCacheKey } from '../../src/stage-cache.js';
import type { RootfsLayout } from '../../src/layout.js';
import type { Profile } from '../../src/profile/schema.js';

const tmp = mkdtempSync(join(tmpdir(), 'iso-build-cache-key-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

const layout: RootfsLayout = { kind: 'casper', squashfs: 'casper/filesystem.squashfs', lowers: [], sizeFile: 'casper/filesystem.size', manifestFile: 'casper/filesystem.manifest', strategy: 'repack', packing: { compression: 'xz' } };
const hook = join(tmp, 'pre.sh');
writeFileSync(hook, 'echo "$ISO_BUILD_VERSION" > /etc/version-from-hook\n');

async function fixture(): Promise<Profile> {
  return loadProfile('profiles/fixture.yaml', { basePath: 'x.iso', baseSha256: 'a'.repeat(64) });
}

function key(profile: Profile, version = 'v1.0.0', epochSeconds = 1700000000): string {
  const inputs = { profile, version, epochSeconds, outputIso: join(tmp, 'out', `x-${version}.iso`), work: workPaths(join(tmp, 'work')) } satisfies Partial<BuildInputs>;
  return rootfsCacheKey(inputs, 'b'.repeat(64), layout);
}

describe('rootfsCacheKey', () => {
  it('is stable for the same inputs', async () => {
    expect(key(await fixture())).toBe(key(await fixture()));
  });

  it('changes with the version when a pre-customize hook can see it (and not without one)', async () => {
    const plain = await fixture();
    expect(key(plain, 'v1.0.1')).toBe(key(plain, 'v1.0.0'));
    const hooked = { ...plain, hooks: { ...plain.hooks, 'pre-customize': [hook] } };
    expect(key(hooked, 'v1.0.1')).not.toBe(key(hooked, 'v1.0.0'));
  });

  it('changes with every stageCache field: name, chroot commands and env, packages, pre-customize hooks and their content', async () => {
    const base = await fixture();
    const k = key(base);
    expect(key({ ...base, name: 'other' })).not.toBe(k);
    expect(key({ ...base, chroot: { ...base.chroot, commands: [...base.chroot.commands, 'true'] } })).not.toBe(k);
    expect(key({ ...base, chroot: { ...base.chroot, env: { A: '1' } } })).not.toBe(k);
    expect(key({ ...base, packages: undefined })).not.toBe(k);
    const hooked = { ...base, hooks: { ...base.hooks, 'pre-customize': [hook] } };
    const before = key(hooked);
    writeFileSync(hook, 'echo changed > /etc/version-from-hook\n');
    expect(key(hooked)).not.toBe(before);
  });

  it('changes with the epoch when there is a payload (its Release file is dated), not otherwise', async () => {
    const base = await fixture();
    expect(key(base, 'v1.0.0', 1)).not.toBe(key(base, 'v1.0.0', 2));
    const bare = { ...base, packages: undefined };
    expect(key(bare, 'v1.0.0', 1)).toBe(key(bare, 'v1.0.0', 2));
  });

  it('does not change with what comes after the cache point: overlay, post-customize hooks, output', async () => {
    const base = await fixture();
    const k = key(base);
    expect(key({ ...base, overlay: [] })).toBe(k);
    expect(key({ ...base, hooks: { ...base.hooks, 'post-customize': [hook] } })).toBe(k);
    expect(key({ ...base, volumeLabel: 'OTHER' })).toBe(k);
  });
});
