/**
 * Real servers for the payload tests, started on 127.0.0.1 and stopped by the tests: Debian's docker-registry
 * (distribution 2.8) with a throwaway config and storage (plain, htpasswd, TLS from a CA made here with openssl), and
 * OCI image layouts made by hand (one image per platform + an image index) pushed to it with skopeo; and what the
 * payload tests share: their profile, a target rootfs, the cache's files, the CLI without a network.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { CLI, REPO, type CliResult } from '../support/cli.js';
import { fixtureProfile, writeProfile, type ProfileDocument } from '../support/profile.js';

export function sha256hex(data: Buffer | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** A profile section `packages` as written, without installScript (always the repository's template). */
export type PayloadPackages = Omit<NonNullable<ProfileDocument['packages']>, 'installScript'>;

/** dir/name.yaml: the single fixture ISO as the base and `packages` with the stock install.sh template. */
export function payloadProfile(dir: string, name: string, packages: PayloadPackages): string {
  return writeProfile(dir, name, {
    name,
    base: fixtureProfile(name).base,
    packages: { installScript: join(REPO, 'profiles/templates/install.sh.hbs'), ...packages },
  });
}

/** A target rootfs with just what the payload reads: the dpkg architecture. */
export function targetRoot(dir: string, arch = 'amd64'): string {
  const root = join(dir, `target-${arch}`);
  mkdirSync(join(root, 'var/lib/dpkg'), { recursive: true });
  writeFileSync(join(root, 'var/lib/dpkg/status'), `Package: dpkg\nStatus: install ok installed\nArchitecture: ${arch}\nVersion: 1.21.22\n\n`);
  return root;
}

/** Every file below the given directories of `cache` (complete ones and *.partial alike), as full paths. */
export function cacheFiles(cache: string, ...dirs: string[]): string[] {
  const out: string[] = [];
  const walk = (d: string): void => {
    if (!existsSync(d)) return;
    for (const n of readdirSync(d, { withFileTypes: true })) (n.isDirectory() ? walk(join(d, n.name)) : out.push(join(d, n.name)));
  };
  for (const d of dirs) walk(join(cache, d));
  return out;
}

/** The CLI in a fresh network namespace (`unshare --net`): only a loopback device that is down, nothing reachable. */
export function runCliOffline(args: string[], env: Record<string, string>): Promise<CliResult> {
  return new Promise((resolvePromise) => {
    const child = spawn('unshare', ['--net', 'node', CLI, ...args], { cwd: REPO, env: { ...process.env, CI: 'true', ...env } });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.on('exit', (code, signal) => resolvePromise({ code, signal, stdout, stderr }));
  });
}

export async function freePort(): Promise<number> {
  return new Promise((resolvePromise, reject) => {
    const srv = createServer();
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolvePromise(port));
    });
    srv.on('error', reject);
  });
}

async function waitForPort(port: number, timeoutMs = 20_000): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const ok = await new Promise<boolean>((r) => {
      const s = connect(port, '127.0.0.1', () => {
        s.destroy();
        r(true);
      });
      s.on('error', () => r(false));
    });
    if (ok) return;
    if (Date.now() > until) throw new Error(`nothing listens on 127.0.0.1:${port}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A CA and a server certificate for 127.0.0.1 signed by it (openssl). */
export function makeCa(dir: string): { ca: string; cert: string; key: string; certDir: string } {
  mkdirSync(dir, { recursive: true });
  const ca = join(dir, 'ca.pem');
  const caKey = join(dir, 'ca.key');
  const key = join(dir, 'server.key');
  const csr = join(dir, 'server.csr');
  const cert = join(dir, 'server.pem');
  const ext = join(dir, 'ext.cnf');
  const o = (args: string[]): void => void execFileSync('openssl', args, { stdio: 'pipe' });
  o(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', caKey, '-out', ca, '-days', '2', '-subj', '/CN=iso-build test CA']);
  o(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', key, '-out', csr, '-subj', '/CN=127.0.0.1']);
  writeFileSync(ext, 'subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n');
  o(['x509', '-req', '-in', csr, '-CA', ca, '-CAkey', caKey, '-CAcreateserial', '-out', cert, '-days', '2', '-extfile', ext]);
  // skopeo's --cert-dir: *.crt are CAs (a *.key there would be taken for a client certificate's key).
  const certDir = join(dir, 'certs.d');
  mkdirSync(certDir, { recursive: true });
  copyFileSync(ca, join(certDir, 'ca.crt'));
  return { ca, cert, key, certDir };
}

export interface Registry {
  host: string;
  stop: () => Promise<void>;
}

/** docker-registry with its own config and storage under `dir`; optional htpasswd user and TLS. */
export async function startRegistry(dir: string, opts: { user?: { name: string; password: string }; tls?: { cert: string; key: string } } = {}): Promise<Registry> {
  mkdirSync(join(dir, 'storage'), { recursive: true });
  const port = await freePort();
  const lines = [
    'version: 0.1',
    'log:',
    '  level: warn',
    '  accesslog:',
    '    disabled: true',
    'storage:',
    '  filesystem:',
    `    rootdirectory: ${join(dir, 'storage')}`,
    'http:',
    `  addr: 127.0.0.1:${port}`,
  ];
  if (opts.tls) lines.push('  tls:', `    certificate: ${opts.tls.cert}`, `    key: ${opts.tls.key}`);
  if (opts.user) {
    const htpasswd = join(dir, 'htpasswd');
    writeFileSync(htpasswd, execFileSync('htpasswd', ['-Bbn', opts.user.name, opts.user.password], { encoding: 'utf8' }));
    lines.push('auth:', '  htpasswd:', '    realm: iso-build-test', `    path: ${htpasswd}`);
  }
  const config = join(dir, 'config.yml');
  writeFileSync(config, `${lines.join('\n')}\n`);
  const child: ChildProcess = spawn('docker-registry', ['serve', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  try {
    await waitForPort(port);
  } catch (err) {
    child.kill('SIGKILL');
    throw new Error(`docker-registry did not start: ${(err as Error).message}\n${stderr}`);
  }
  return {
    host: `127.0.0.1:${port}`,
    stop: () =>
      new Promise<void>((r) => {
        if (child.exitCode !== null) return r();
        child.on('exit', () => r());
        child.kill('SIGTERM');
      }),
  };
}

/**
 * A home directory whose ~/.config/containers/registries.conf marks plain-HTTP registries insecure (what podman and
 * skopeo users do; containers/image reads it instead of /etc/containers/registries.conf when it exists).
 */
export function homeWithInsecure(home: string, insecureHosts: string[]): string {
  mkdirSync(join(home, '.config/containers'), { recursive: true });
  writeFileSync(join(home, '.config/containers/registries.conf'), insecureHosts.map((h) => `[[registry]]\nlocation = "${h}"\ninsecure = true\n`).join('\n'));
  return home;
}

/** A tar holding one file, with fixed metadata (so digests are stable), made with GNU tar. */
function layerTar(dir: string, name: string, content: string): Buffer {
  const src = join(dir, `layer-src-${name}`);
  mkdirSync(src, { recursive: true });
  writeFileSync(join(src, name), content);
  return execFileSync('tar', ['--format=ustar', '--mtime=@0', '--owner=0', '--group=0', '--numeric-owner', '--sort=name', '-C', src, '-cf', '-', name]);
}

export interface OciImage {
  /** The OCI layout directory (oci:DIR:TAG is its skopeo reference). */
  layout: string;
  tag: string;
  /** Manifest digests per architecture, and the index's. */
  manifests: Record<string, string>;
  index?: string;
}

/**
 * An OCI image layout by hand: per architecture one layer with /arch.txt saying which, a config and a manifest; with
 * more than one architecture, an image index over them.
 */
export function makeOciLayout(dir: string, tag: string, arches: string[]): OciImage {
  const layout = join(dir, 'layout');
  const blobs = join(layout, 'blobs', 'sha256');
  mkdirSync(blobs, { recursive: true });
  const put = (data: Buffer | string): { digest: string; size: number } => {
    const buf = Buffer.isBuffer(data) ? data : Buffer.from(data);
    const hex = sha256hex(buf);
    writeFileSync(join(blobs, hex), buf);
    return { digest: `sha256:${hex}`, size: buf.length };
  };
  const manifests: Record<string, string> = {};
  const descs = arches.map((arch) => {
    const tar = layerTar(dir, 'arch.txt', `${arch}\n`);
    const layer = put(gzipSync(tar, { level: 9 }));
    const config = put(JSON.stringify({ architecture: arch, os: 'linux', config: {}, rootfs: { type: 'layers', diff_ids: [`sha256:${sha256hex(tar)}`] } }));
    const manifest = put(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
        layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', ...layer }],
      }),
    );
    manifests[arch] = manifest.digest;
    return { mediaType: 'application/vnd.oci.image.manifest.v1+json', ...manifest, platform: { architecture: arch, os: 'linux' } };
  });
  let top = descs[0]!;
  let index: string | undefined;
  if (arches.length > 1) {
    const idx = put(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: descs }));
    index = idx.digest;
    top = { mediaType: 'application/vnd.oci.image.index.v1+json', ...idx } as typeof top;
  }
  const { platform: _p, ...topDesc } = top;
  writeFileSync(join(layout, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  writeFileSync(join(layout, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [{ ...topDesc, annotations: { 'org.opencontainers.image.ref.name': tag } }] }));
  return { layout, tag, manifests, ...(index ? { index } : {}) };
}

/** Pushes a layout with skopeo, every platform and the index byte for byte. */
export function push(image: OciImage, dest: string, env: Record<string, string> = {}, extra: string[] = []): void {
  execFileSync('skopeo', ['copy', '--all', '--preserve-digests', '--quiet', ...extra, `oci:${image.layout}:${image.tag}`, `docker://${dest}`], {
    env: { ...process.env, ...env },
    stdio: 'pipe',
  });
}

/** A Helm chart as an OCI artifact (what `helm push` writes): a helm config blob and the .tgz as the one layer. */
export function makeChartLayout(dir: string, tgz: Buffer, chart: { name: string; version: string }): OciImage {
  const layout = join(dir, 'layout');
  const blobs = join(layout, 'blobs', 'sha256');
  mkdirSync(blobs, { recursive: true });
  const put = (buf: Buffer): { digest: string; size: number } => {
    const hex = sha256hex(buf);
    writeFileSync(join(blobs, hex), buf);
    return { digest: `sha256:${hex}`, size: buf.length };
  };
  const config = put(Buffer.from(JSON.stringify({ apiVersion: 'v2', name: chart.name, version: chart.version })));
  const layer = put(tgz);
  const manifest = put(
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.cncf.helm.config.v1+json', ...config },
        layers: [{ mediaType: 'application/vnd.cncf.helm.chart.content.v1.tar+gzip', ...layer }],
      }),
    ),
  );
  const tag = chart.version.replaceAll('+', '_');
  writeFileSync(join(layout, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  writeFileSync(
    join(layout, 'index.json'),
    JSON.stringify({ schemaVersion: 2, manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', ...manifest, annotations: { 'org.opencontainers.image.ref.name': tag } }] }),
  );
  return { layout, tag, manifests: { chart: manifest.digest } };
}
