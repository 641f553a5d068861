/** Chart versions in index.yaml are ordered as SemVer, newest first (as helm writes them), not as text. */
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { chartIndexYaml, compareChartVersions } from '../../src/packages/charts.js';

describe('chart versions', () => {
  it('order by SemVer, newest first: 1.10.0 above 1.9.0, a release above its pre-releases, unparsable last', () => {
    const sorted = ['1.9.0', 'not-a-version', '1.10.0', '1.10.0-rc.2', '1.10.0-rc.10', '0.9.0', '2.0.0-alpha'].sort(compareChartVersions);
    expect(sorted).toEqual(['2.0.0-alpha', '1.10.0', '1.10.0-rc.10', '1.10.0-rc.2', '1.9.0', '0.9.0', 'not-a-version']);
  });

  it('index.yaml lists each chart newest first, whatever order the entries come in', () => {
    const entry = (name: string, version: string) => ({ name, version, file: `${name}-${version}.tgz`, sha256: 'a'.repeat(64) });
    const text = chartIndexYaml([entry('hello', '1.9.0'), entry('app', '0.2.0'), entry('hello', '1.10.0'), entry('hello', '1.10.0-rc.1')], 1700000000);
    const doc = parse(text) as { entries: Record<string, { version: string }[]> };
    expect(Object.keys(doc.entries)).toEqual(['app', 'hello']);
    expect(doc.entries.hello!.map((e) => e.version)).toEqual(['1.10.0', '1.10.0-rc.1', '1.9.0']);
  });
});
