/** Helm charts: Chart.yaml read from the .tgz and checked against the profile, and the index.yaml of a local repository. */
import semver from 'semver';
import { parse, stringify } from 'yaml';
import { scanTar, TarFormatError } from './tar.js';

export interface ChartCheck {
  name?: string;
  version?: string;
  appVersion?: string;
  description?: string;
  apiVersion?: string;
  /** The Chart.yaml fields Helm keeps in an index entry, as written. */
  metadata: Record<string, unknown>;
  problems: string[];
}

/**
 * The fields of Helm's chart.Metadata (pkg/chart/metadata.go), which `helm repo index` copies from Chart.yaml into each
 * index.yaml entry, in that struct's order.
 */
const HELM_METADATA_FIELDS = [
  'name', 'home', 'sources', 'version', 'description', 'keywords', 'maintainers', 'icon', 'apiVersion', 'condition',
  'tags', 'appVersion', 'deprecated', 'annotations', 'kubeVersion', 'dependencies', 'type',
] as const;

export async function checkChart(file: string, expected: { name?: string; version?: string } = {}): Promise<ChartCheck> {
  let scan;
  try {
    scan = await scanTar(file, 1 << 20);
  } catch (err) {
    if (err instanceof TarFormatError) return { metadata: {}, problems: [err.message] };
    throw err;
  }
  const problems: string[] = [];
  if (scan.truncated) problems.push('the archive is truncated');
  for (const member of scan.unsafe) problems.push(`member ${member} leads out of the directory it would be extracted into`);
  const chartYaml = [...scan.files.values()].find((f) => /^[^/]+\/Chart\.yaml$/.test(f.name));
  if (!chartYaml?.data) return { metadata: {}, problems: [...problems, 'no <chart>/Chart.yaml in the archive'] };
  let doc: Record<string, unknown>;
  try {
    const parsed: unknown = parse(chartYaml.data.toString('utf8'));
    if (typeof parsed !== 'object' || parsed === null) throw new Error('not a mapping');
    doc = parsed as Record<string, unknown>;
  } catch (err) {
    return { metadata: {}, problems: [...problems, `${chartYaml.name} does not parse: ${(err as Error).message}`] };
  }
  const str = (k: string): string | undefined => (doc[k] === undefined || doc[k] === null ? undefined : String(doc[k]));
  const check: ChartCheck = {
    name: str('name'),
    version: str('version'),
    appVersion: str('appVersion'),
    description: str('description'),
    apiVersion: str('apiVersion'),
    metadata: Object.fromEntries(HELM_METADATA_FIELDS.filter((k) => doc[k] !== undefined && doc[k] !== null).map((k) => [k, doc[k]])),
    problems,
  };
  if (!check.name || !check.version) problems.push(`${chartYaml.name} has no name or version`);
  if (expected.name !== undefined && check.name !== expected.name) problems.push(`${chartYaml.name} names chart "${check.name ?? ''}", expected "${expected.name}"`);
  if (expected.version !== undefined && check.version !== expected.version) {
    problems.push(`${chartYaml.name} has version "${check.version ?? ''}", expected "${expected.version}"`);
  }
  return check;
}

export interface IndexEntry {
  name: string;
  version: string;
  /** Chart.yaml's Helm metadata fields (see HELM_METADATA_FIELDS), copied into the entry as they are. */
  metadata?: Record<string, unknown>;
  file: string;
  sha256: string;
}

/**
 * Helm's order of one chart's versions in index.yaml: newest SemVer first, versions that do not parse last (helm
 * pkg/repo/index.go, ChartVersions.Less: "Failed parse pushes to the back"; sorted in reverse). Ties by text, so the
 * index is the same whatever order the profile lists the charts in.
 */
export function compareChartVersions(a: string, b: string): number {
  const [va, vb] = [semver.parse(a, { loose: true }), semver.parse(b, { loose: true })];
  if (va && vb) return semver.rcompare(va, vb) || (a < b ? -1 : a > b ? 1 : 0);
  if (va || vb) return va ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

/** index.yaml as `helm repo index` writes it, with relative URLs and a fixed timestamp. */
export function chartIndexYaml(entries: readonly IndexEntry[], epochSeconds: number): string {
  const created = new Date(epochSeconds * 1000).toISOString();
  const byName: Record<string, unknown[]> = {};
  const byNameThenVersion = (a: IndexEntry, b: IndexEntry): number => (a.name === b.name ? compareChartVersions(a.version, b.version) : a.name < b.name ? -1 : 1);
  for (const e of [...entries].sort(byNameThenVersion)) {
    (byName[e.name] ??= []).push({
      ...e.metadata,
      apiVersion: e.metadata?.apiVersion ?? 'v2',
      name: e.name,
      version: e.version,
      created,
      digest: e.sha256,
      urls: [e.file],
    });
  }
  return stringify({ apiVersion: 'v1', entries: byName, generated: created });
}

export function parseChartIndex(text: string): { name: string; version: string; file: string; digest?: string }[] {
  const doc = parse(text) as { entries?: Record<string, { name?: string; version?: string; urls?: string[]; digest?: string }[]> } | null;
  const out: { name: string; version: string; file: string; digest?: string }[] = [];
  for (const [name, list] of Object.entries(doc?.entries ?? {})) {
    for (const e of list ?? []) out.push({ name: e.name ?? name, version: String(e.version ?? ''), file: e.urls?.[0] ?? '', digest: e.digest });
  }
  return out;
}
