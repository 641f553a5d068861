import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { helmChartManifest } from '../../src/bringup/helmchart.js';
import { registriesYaml } from '../../src/bringup/registries.js';
import { bringupUnit } from '../../src/bringup/unit.js';
import { writeBringup } from '../../src/bringup/write.js';
import { BringupSchema } from '../../src/profile/schema-bringup.js';
import { PackagesSchema, ProfileSchema } from '../../src/profile/schema.js';

const REPO_ROOT = join(import.meta.dirname, '../..');
const CHART = join(REPO_ROOT, 'test/fixtures/packages/hello-chart-0.1.0.tgz');
const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

describe('bringup schema', () => {
  it('defaults: no k3s, runtime auto, the stock template', () => {
    expect(BringupSchema.parse({})).toEqual({ charts: [], runtime: 'auto', serialMarker: false, script: 'templates/bringup.sh.hbs' });
  });

  it('k3s files: a profile path or a payload file (packages.files dest), exactly one of each', () => {
    const b = BringupSchema.parse({ k3s: { binaryFile: 'k3s/k3s', installScriptFile: 'k3s/install.sh' } });
    expect(b.k3s).toEqual({ binaryFile: 'k3s/k3s', installScriptFile: 'k3s/install.sh', mirrors: [] });
    const both = BringupSchema.safeParse({ k3s: { binary: 'k3s', binaryFile: 'k3s/k3s', installScriptFile: 'k3s/install.sh' } });
    expect(both.error?.issues.map((i) => i.message)).toEqual(['expected exactly one of binary / binaryFile']);
    const none = BringupSchema.safeParse({ k3s: { installScript: 'i.sh' } });
    expect(none.error?.issues.map((i) => i.message)).toEqual(['expected exactly one of binary / binaryFile']);
    expect(BringupSchema.safeParse({ k3s: { binaryFile: '../k3s', installScript: 'i.sh' } }).success).toBe(false);
  });

  it('a k3s profile names the binary and the install script; mirrors default to none', () => {
    const b = BringupSchema.parse({ k3s: { binary: 'k3s/k3s', installScript: 'k3s/install.sh' } });
    expect(b.k3s).toEqual({ binary: 'k3s/k3s', installScript: 'k3s/install.sh', mirrors: [] });
  });

  it('rejects charts without k3s, bad namespaces and mirror endpoints that are not URLs', () => {
    const issues = (v: unknown): string[] => BringupSchema.safeParse(v).error?.issues.map((i) => `${i.path.join('.')}: ${i.message}`) ?? [];
    expect(issues({ charts: [{ name: 'hello' }] })).toEqual(['charts: expected bringup.k3s: charts are deployed by k3s (HelmChart manifests)']);
    expect(issues({ k3s: { binary: 'a', installScript: 'b' }, charts: [{ name: 'x', targetNamespace: 'Bad_NS' }] })[0]).toMatch(/^charts\.0\.targetNamespace: /);
    expect(issues({ k3s: { binary: 'a', installScript: 'b', mirrors: [{ registry: 'docker.io', endpoints: ['registry:5000'] }] } })[0]).toMatch(
      /^k3s\.mirrors\.0\.endpoints\.0: expected an http/,
    );
  });
});

describe('bringup charts in the whole profile', () => {
  const profileIssues = (charts: unknown[], settings: unknown[]): string[] =>
    ProfileSchema.safeParse({
      name: 'p',
      base: { path: 'base.iso', sha256: 'a'.repeat(64) },
      packages: { charts },
      bringup: { k3s: { binary: 'k3s', installScript: 'install.sh' }, charts: settings },
    }).error?.issues.map((i) => `${i.path.join('.')}: ${i.message}`) ?? [];

  it('a chart name twice (one HelmChart each) and settings of a chart the payload lacks are profile errors', () => {
    const hello = (version: string): unknown => ({ name: 'hello', version, path: `hello-${version}.tgz` });
    expect(profileIssues([hello('0.1.0')], [{ name: 'hello' }])).toEqual([]);
    // without a payload the bring-up is skipped, settings and all
    expect(ProfileSchema.safeParse({ name: 'p', base: { path: 'b.iso', sha256: 'a'.repeat(64) }, bringup: { k3s: { binary: 'k', installScript: 'i' }, charts: [{ name: 'x' }] } }).success).toBe(true);
    expect(profileIssues([hello('0.1.0'), hello('0.2.0')], [])).toEqual([
      'packages.charts.1.name: expected each chart name once with bringup.k3s (each chart is deployed as the HelmChart of its name)',
    ]);
    expect(profileIssues([hello('0.1.0')], [{ name: 'hello' }, { name: 'hello' }, { name: 'other' }])).toEqual([
      "bringup.charts.1.name: expected each chart's settings once",
      'bringup.charts.2.name: expected the name of a chart in packages.charts',
    ]);
  });
});

describe('HelmChart manifest (helm-controller pkg/apis/helm.cattle.io/v1 HelmChartSpec)', () => {
  it('embeds the chart byte for byte and omits valuesContent when there are no values', () => {
    const chart = readFileSync(CHART);
    const doc = parse(helmChartManifest({ name: 'hello', version: '0.1.0', targetNamespace: 'hello', values: {}, chart })) as {
      spec: Record<string, unknown>;
    };
    expect(sha256(Buffer.from(String(doc.spec['chartContent']), 'base64'))).toBe(sha256(chart));
    expect(doc.spec).not.toHaveProperty('valuesContent');
    expect(Object.keys(doc.spec).sort()).toEqual(['chart', 'chartContent', 'createNamespace', 'targetNamespace', 'version']);
  });
});

describe('registries.yaml and the unit', () => {
  it('registries.yaml keys mirrors by registry with an endpoint list', () => {
    expect(parse(registriesYaml([{ registry: '*', endpoints: ['http://10.0.0.1:5000', 'https://m.invalid'] }]))).toEqual({
      mirrors: { '*': { endpoint: ['http://10.0.0.1:5000', 'https://m.invalid'] } },
    });
  });

  it('the unit is a oneshot after local-fs, on the console, never in the live session', () => {
    const unit = bringupUnit('NovaSphere');
    expect(unit).toMatch(/^After=local-fs\.target /m);
    expect(unit).not.toMatch(/network/);
    expect(unit).toMatch(/^WantedBy=multi-user\.target$/m);
    expect(unit).toMatch(/^StandardError=journal\+console$/m);
    expect(unit).toMatch(/^ConditionPathIsMountPoint=!\/cdrom$/m);
  });
});

describe('writeBringup: the charts of the payload', () => {
  it('finds a remote chart given as a range under the version the lock pinned', () => {
    const root = mkdtempSync(join(tmpdir(), 'isob-bringup-range-'));
    try {
      const charts = join(root, 'opt/novasphere/packages/charts');
      mkdirSync(charts, { recursive: true });
      for (const v of ['0.1.5', '0.2.0']) copyFileSync(CHART, join(charts, `hello-${v}.tgz`));
      writeFileSync(join(root, 'k3s'), '');
      writeFileSync(join(root, 'install.sh'), '');
      writeBringup({
        rootfs: root,
        name: 'range',
        product: 'NovaSphere Test',
        profileDir: join(REPO_ROOT, 'profiles'),
        packages: PackagesSchema.parse({ charts: [{ repo: 'https://charts.invalid', name: 'hello', version: '~0.1.0' }] }),
        bringup: BringupSchema.parse({ k3s: { binary: join(root, 'k3s'), installScript: join(root, 'install.sh') } }),
      });
      const manifest = parse(readFileSync(join(root, 'var/lib/rancher/k3s/server/manifests/chart-hello.yaml'), 'utf8')) as { spec: { version: string } };
      expect(manifest.spec.version).toBe('0.1.5');
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
