/**
 * Helpers of the bring-up / install.sh runtime tests: a real containerd (Debian's package) started in a temp dir with
 * its own socket, image archives made from the hand-made OCI fixture, and a rootfs holding a payload as the packages
 * stage leaves it.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { imagesTxt } from '../../src/packages/images.js';
import { REPO, tempDir } from '../support/cli.js';

export const FIXTURE_IMAGE = join(REPO, 'test/fixtures/packages/hello-image-oci.tar');
export const FIXTURE_CHART = join(REPO, 'test/fixtures/packages/hello-chart-0.1.0.tgz');
export const FIXTURE_REF = 'registry.novasphere.invalid/test/hello:1.0';

const made: string[] = [];
/** A temp dir removed by removeTempDirs(). */
export function scratch(prefix: string): string {
  const dir = tempDir(prefix);
  made.push(dir);
  return dir;
}
export function removeTempDirs(): void {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
}

export function sh(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; input?: string } = {}): { code: number | null; out: string } {
  const res = spawnSync(cmd, args, { encoding: 'utf8', env: opts.env ?? process.env, input: opts.input, maxBuffer: 64 << 20 });
  return { code: res.status, out: `${res.stdout ?? ''}${res.stderr ?? ''}` };
}

export interface Containerd {
  dir: string;
  socket: string;
  /** `ctr -n k8s.io images ls -q` against this daemon. */
  images(): string[];
  stop(): Promise<void>;
}

/** containerd with root, state, socket and opt dir under a temp dir (no host-wide path); the CRI plugin off. */
export async function startContainerd(): Promise<Containerd> {
  const dir = scratch('containerd');
  const socket = join(dir, 'containerd.sock');
  writeFileSync(
    join(dir, 'config.toml'),
    [
      'version = 2',
      `root = "${dir}/root"`,
      `state = "${dir}/state"`,
      'disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs",',
      '  "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs"]',
      '[grpc]',
      `  address = "${socket}"`,
      '[plugins."io.containerd.internal.v1.opt"]',
      `  path = "${dir}/opt"`,
      '',
    ].join('\n'),
  );
  const child: ChildProcess = spawn('containerd', ['--config', join(dir, 'config.toml')], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr?.on('data', (d: Buffer) => (log += d.toString()));
  for (let i = 0; i < 100 && !existsSync(socket); i++) await new Promise((r) => setTimeout(r, 100));
  if (!existsSync(socket)) {
    child.kill('SIGKILL');
    throw new Error(`containerd did not create ${socket}: ${log.slice(-2000)}`);
  }
  return {
    dir,
    socket,
    images: () => sh('ctr', ['--address', socket, '-n', 'k8s.io', 'images', 'ls', '-q']).out.split('\n').filter(Boolean),
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

/** The fixture OCI archive renamed to `ref` (its io.containerd.image.name), then compressed with `compress`. */
export function imageArchive(dir: string, name: string, ref: string, compress: 'none' | 'gzip' | 'zstd'): string {
  const work = join(dir, `${name}.d`);
  mkdirSync(work, { recursive: true });
  sh('tar', ['-xf', FIXTURE_IMAGE, '-C', work]);
  const index = readFileSync(join(work, 'index.json'), 'utf8').replace(FIXTURE_REF, ref);
  writeFileSync(join(work, 'index.json'), index);
  const tar = join(dir, `${name}.tar`);
  sh('tar', ['-C', work, '-cf', tar, 'oci-layout', 'index.json', 'blobs']);
  if (compress === 'none') return tar;
  sh(compress, compress === 'gzip' ? ['-n', '-f', tar] : ['-q', '-f', '--rm', tar]);
  return `${tar}.${compress === 'gzip' ? 'gz' : 'zst'}`;
}

/** A rootfs with /opt/novasphere/VERSION and the payload parts the bring-up reads: images/ with images.txt, charts/. */
export function payloadRootfs(images: { archive: string; reference: string }[], charts: { source: string; file: string }[] = []): string {
  const root = scratch('bringup-root');
  const payload = join(root, 'opt/novasphere/packages');
  mkdirSync(join(payload, 'images'), { recursive: true });
  writeFileSync(join(root, 'opt/novasphere/VERSION'), '1.2.3\n');
  const listed = images.map((image) => {
    const file = image.archive.split('/').pop()!;
    copyFileSync(image.archive, join(payload, 'images', file));
    return { reference: image.reference, digest: `sha256:${'0'.repeat(64)}`, file };
  });
  writeFileSync(join(payload, 'images/images.txt'), imagesTxt(listed));
  mkdirSync(join(payload, 'charts'), { recursive: true });
  for (const chart of charts) copyFileSync(chart.source, join(payload, 'charts', chart.file));
  return root;
}

/** A PATH directory with every program of /usr/bin, /bin, /usr/sbin, /sbin except the container runtimes. */
export function pathWithout(dir: string, programs: string[]): string {
  const bin = join(dir, 'bin-without-runtimes');
  mkdirSync(bin, { recursive: true });
  for (const d of ['/usr/sbin', '/usr/bin', '/sbin', '/bin']) {
    if (!existsSync(d)) continue;
    for (const name of readdirSync(d)) {
      if (programs.includes(name) || existsSync(join(bin, name))) continue;
      symlinkSync(join(d, name), join(bin, name));
    }
  }
  return bin;
}
