/**
 * Writes the first-boot bring-up into the rootfs at build time: the script and its systemd unit (enabled), and for
 * k3s profiles the k3s files, the HelmChart manifests (charts embedded) and registries.yaml, so the ISO itself shows
 * what the installed system will do. Reads the payload as the packages stage left it in the rootfs (images.txt,
 * charts/NAME-VERSION.tgz, system/Packages).
 */
import { closeSync, copyFileSync, existsSync, openSync, readSync, mkdirSync, readFileSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { usageError } from '../errors.js';
import { normalizeReference, parseImagesTxt } from '../packages/images.js';
import { pickVersion } from '../packages/remote.js';
import { sourcesPath, systemPackageNames } from '../packages/payload.js';
import { resolveInRoot, writeInRoot } from '../rootfs-path.js';
import { PAYLOAD_DIR, VERSION_FILE } from '../product.js';
import type { BringupOptions } from '../profile/schema-bringup.js';
import type { PackagesOptions } from '../profile/schema.js';
import { helmChartManifest } from './helmchart.js';
import {
  BRINGUP_LOG_DIR,
  BRINGUP_SCRIPT,
  BRINGUP_STATE,
  BRINGUP_UNIT,
  BRINGUP_WANTS,
  chartManifestPath,
  K3S_FILES_DIR,
  K3S_IMAGES_DIR,
  K3S_REGISTRIES,
  SERIAL_MARKER_SCRIPT,
  SERIAL_MARKER_UNIT,
  SERIAL_MARKER_WANTS,
} from './paths.js';
import { registriesYaml } from './registries.js';
import { readBringupTemplate, renderBringupScript, type BringupImage } from './script.js';
import { bringupUnit, serialMarkerScript, serialMarkerUnit } from './unit.js';

export interface BringupInput {
  rootfs: string;
  name: string;
  product: string;
  profileDir: string;
  packages: PackagesOptions;
  bringup: BringupOptions;
}

export interface BringupResult {
  /** Paths written, as on the installed system. */
  files: string[];
  images: number;
  charts: number;
  k3s: boolean;
}

export function writeBringup(input: BringupInput): BringupResult {
  const { rootfs, bringup } = input;
  const files: string[] = [];
  const write = (inRoot: string, content: string | Buffer, mode = 0o644): void => {
    writeInRoot(rootfs, inRoot, content, mode);
    files.push(inRoot);
  };
  const payload = resolveInRoot(rootfs, PAYLOAD_DIR);
  const images = payloadImages(payload);
  const chartManifests: string[] = [];
  let k3sBinary = '';
  let k3sInstallScript = '';
  if (bringup.k3s) {
    const k3s = bringup.k3s;
    k3sBinary = k3sFile(rootfs, input.profileDir, k3s.binary, k3s.binaryFile, 'k3s', 'binary');
    k3sInstallScript = k3sFile(rootfs, input.profileDir, k3s.installScript, k3s.installScriptFile, 'install.sh', 'installScript');
    files.push(k3sBinary, k3sInstallScript);
    if (k3s.mirrors.length > 0) write(K3S_REGISTRIES, registriesYaml(k3s.mirrors), 0o600);
    for (const chart of input.packages.charts) {
      const { file, version } = payloadChart(payload, chart);
      const settings = bringup.charts.find((c) => c.name === chart.name);
      const manifest = helmChartManifest({
        name: chart.name,
        version,
        targetNamespace: settings?.targetNamespace ?? chart.name,
        values: settings?.values ?? {},
        chart: readFileSync(file),
      });
      write(chartManifestPath(chart.name), manifest, 0o600);
      chartManifests.push(chartManifestPath(chart.name));
    }
  }
  // bringup.charts naming only charts of the payload, each once, is the profile schema's check (checkBringupCharts).
  const system = systemPackageNames(input.packages, payload); // the same list install.sh installs
  if (!bringup.k3s) checkDecompressors(rootfs, payload, images, system);
  const steps = [
    ...(system.length > 0 ? ['system'] : []),
    ...(bringup.k3s ? ['k3s-binary', 'k3s-install'] : []),
    ...images.map((i) => i.step),
    ...(chartManifests.length > 0 ? ['charts'] : []),
  ];
  const script = renderBringupScript(readBringupTemplate(resolve(input.profileDir, bringup.script)), {
    product: input.product,
    payloadDir: PAYLOAD_DIR,
    versionFile: VERSION_FILE,
    stateFile: BRINGUP_STATE,
    logDir: BRINGUP_LOG_DIR,
    sourcesPath: sourcesPath(input.name),
    system,
    images,
    k3s: bringup.k3s !== undefined,
    k3sFilesDir: K3S_FILES_DIR,
    k3sBinary,
    k3sInstallScript,
    k3sExec: bringup.k3s?.exec ?? '',
    k3sImagesDir: K3S_IMAGES_DIR,
    chartManifests,
    runtime: bringup.runtime,
    steps: steps.join(' '),
  });
  write(BRINGUP_SCRIPT, script, 0o755);
  write(BRINGUP_UNIT, bringupUnit(input.product));
  enable(rootfs, BRINGUP_UNIT, BRINGUP_WANTS);
  files.push(BRINGUP_WANTS);
  if (bringup.serialMarker) {
    write(SERIAL_MARKER_SCRIPT, serialMarkerScript(), 0o755);
    write(SERIAL_MARKER_UNIT, serialMarkerUnit(input.product));
    enable(rootfs, SERIAL_MARKER_UNIT, SERIAL_MARKER_WANTS);
    files.push(SERIAL_MARKER_WANTS);
  }
  return { files, images: images.length, charts: chartManifests.length, k3s: bringup.k3s !== undefined };
}

/**
 * containerd and docker are handed plain tars (ctr 1.6 refuses compressed ones), so the installed system decompresses
 * .zst archives with zstd, which a minimal Debian or Ubuntu lacks (gzip is essential): found at build time, not on
 * the machine with no network. k3s decompresses its images directory itself.
 */
function checkDecompressors(rootfs: string, payload: string, images: BringupImage[], system: string[]): void {
  const zstd = images.filter((i) => firstBytes(join(payload, 'images', i.file), 4).equals(ZSTD_MAGIC));
  if (zstd.length === 0 || system.includes('zstd')) return;
  if (['/usr/bin/zstd', '/bin/zstd'].some((p) => existsSync(resolveInRoot(rootfs, p)))) return;
  throw usageError(
    `bringup: ${zstd.map((i) => i.file).join(', ')} ${zstd.length === 1 ? 'is' : 'are'} zstd-compressed, and the target has no zstd to decompress ${zstd.length === 1 ? 'it' : 'them'} for the container runtime`,
    'add zstd to packages.system (it is installed before the images are imported), or ship plain or .tar.gz archives',
  );
}
const ZSTD_MAGIC = Buffer.from([0x28, 0xb5, 0x2f, 0xfd]);

function firstBytes(file: string, n: number): Buffer {
  const fd = openSync(file, 'r');
  try {
    const buf = Buffer.alloc(n);
    return buf.subarray(0, readSync(fd, buf, 0, n, 0));
  } finally {
    closeSync(fd);
  }
}

/** What `systemctl enable` makes for WantedBy=multi-user.target: the wants symlink to the unit. */
function enable(rootfs: string, unit: string, wants: string): void {
  const link = join(resolveInRoot(rootfs, dirname(wants)), basename(wants));
  mkdirSync(dirname(link), { recursive: true });
  rmSync(link, { force: true });
  symlinkSync(unit, link);
}

/**
 * The payload's .tgz of a `packages.charts` entry. Its version may be a range (remote charts): the payload holds the
 * version `packages lock` pinned, the highest of that name in the range (the same choice, remote.ts pickVersion).
 */
function payloadChart(payload: string, chart: { name: string; version: string }): { file: string; version: string } {
  const dir = join(payload, 'charts');
  const prefix = `${chart.name}-`;
  const versions = (existsSync(dir) ? readdirSync(dir) : []).filter((f) => f.startsWith(prefix) && f.endsWith('.tgz')).map((f) => f.slice(prefix.length, -'.tgz'.length));
  const version = pickVersion(versions, chart.version);
  if (version === undefined) throw usageError(`bringup: chart ${chart.name} ${chart.version} is not in the payload (${dir})`);
  return { file: join(dir, `${prefix}${version}.tgz`), version };
}

/**
 * A k3s file on the installed system: a profile file copied to /opt/novasphere/k3s/NAME, or a payload file
 * (packages.files dest) used where the payload has it, so the ~70 MB binary is not stored twice.
 */
function k3sFile(rootfs: string, profileDir: string, local: string | undefined, payloadFile: string | undefined, name: string, key: string): string {
  if (payloadFile !== undefined) {
    const inRoot = `${PAYLOAD_DIR}/files/${payloadFile}`;
    if (!existsSync(resolveInRoot(rootfs, inRoot))) {
      throw usageError(`bringup.k3s.${key}File: ${payloadFile} is not a payload file (${inRoot})`, 'name the dest of a packages.files entry');
    }
    return inRoot;
  }
  const inRoot = `${K3S_FILES_DIR}/${name}`;
  copyInto(rootfs, resolve(profileDir, local!), inRoot, 0o755, `bringup.k3s.${key}`);
  return inRoot;
}

function copyInto(rootfs: string, source: string, inRoot: string, mode: number, key: string): void {
  if (!existsSync(source)) throw usageError(`${key}: file not found: ${source}`, "paths in bringup are relative to the profile's directory");
  copyFileSync(source, writeInRoot(rootfs, inRoot, '', mode));
}

/** The payload's images (images/images.txt), each with its step name in the state file. */
function payloadImages(payloadDir: string): BringupImage[] {
  const list = join(payloadDir, 'images', 'images.txt');
  if (!existsSync(list)) return [];
  return parseImagesTxt(readFileSync(list, 'utf8')).map(({ reference, file }, i) => ({
    file,
    reference: normalizeReference(reference),
    step: `image:${i + 1}:${file.replace(/[^A-Za-z0-9._-]/g, '_')}`,
  }));
}

