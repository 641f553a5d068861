import { describe, expectTypeOf, it } from 'vitest';
import type { BaseLayout, Compression, OverlayMapping, Profile } from '../../src/profile/schema.js';
import type { PackagesOptions } from '../../src/profile/schema.js';
import type { BringupOptions } from '../../src/profile/schema-bringup.js';

/** The contract the rest of the code relies on; the types derived from the zod schema must match it exactly. */
interface ExpectedOverlayMapping {
  source: string;
  target: string;
  into: 'rootfs' | 'iso';
  owner: string;
}
interface ExpectedProfile {
  file: string;
  dir: string;
  name: string;
  product: string;
  volumeLabel: string;
  base: {
    path?: string;
    url?: string;
    sha256?: string;
    sha256sums?: string;
    layout: 'auto' | 'casper' | 'casper-layered' | 'debian-live';
    rootfsLayer?: string;
  };
  rootfs: { compression: 'auto' | 'xz' | 'zstd' | 'gzip'; compressionLevel?: number; strategy: 'auto' | 'repack' | 'layer' };
  overlay: ExpectedOverlayMapping[];
  chroot: { commands: string[]; env: Record<string, string> };
  output: { name: string };
  sourceDateEpoch?: number;
  packages?: PackagesOptions;
  bringup?: BringupOptions;
  release?: { gpgKey?: string };
  autoinstall?: {
    userData: string;
    metaData?: string;
    release: string;
    hostname?: string;
    username: string;
    realname?: string;
    passwordHash?: string;
    sshKeys: string[];
    locale: string;
    keyboard: { layout: string; variant: string };
    timezone: string;
    storage: 'lvm' | 'direct' | 'zfs';
    packages: string[];
    lateCommands: string[];
  };
  bootMenu?: false | { title: string; timeout?: number; default?: number; kernelArgs: string[]; installedKernelArgs: string[] };
  hooks: { 'pre-customize': string[]; 'post-customize': string[]; 'pre-repack': string[]; 'post-build': string[] };
  timeouts: { hook: number; chrootCommand: number };
  vars?: Record<string, string>;
  extends?: string;
}

// A type test: `vitest run` checks it with tsc (typecheck in vitest.config.ts), and so does `tsc --noEmit`.
describe('profile types', () => {
  it('match the documented shape', () => {
    expectTypeOf<Compression>().toEqualTypeOf<'auto' | 'xz' | 'zstd' | 'gzip'>();
    expectTypeOf<BaseLayout>().toEqualTypeOf<'auto' | 'casper' | 'casper-layered' | 'debian-live'>();
    expectTypeOf<OverlayMapping>().toEqualTypeOf<ExpectedOverlayMapping>();
    expectTypeOf<Profile>().toEqualTypeOf<ExpectedProfile>();
  });
});
