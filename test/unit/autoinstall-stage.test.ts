import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BuildLog } from '../../src/build-log.js';
import { loadProfile } from '../../src/profile/load.js';
import { autoinstallStage } from '../../src/stages/autoinstall.js';
import { autoinstallSkip } from '../../src/stages/skips.js';
import { recordingReporter } from '../../src/pipeline/reporter.js';
import type { BuildInputs } from '../../src/context.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'iso-build-ai-stage-'));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

async function runStage(release: string): Promise<{ tree: string; title: string }> {
  const fixture = await loadProfile('profiles/fixture.yaml', { basePath: 'x.iso', baseSha256: 'a'.repeat(64) });
  const tree = mkdtempSync(path.join(tmp, 'tree-'));
  const ctx = {
    profile: { ...fixture, autoinstall: { ...fixture.autoinstall!, release } },
    version: 'v2.0.0',
    work: { tree },
    log: new BuildLog(path.join(tree, '..', `${path.basename(tree)}.log`)),
  } as unknown as BuildInputs;
  const task = recordingReporter();
  autoinstallStage(ctx, task);
  return { tree, title: task.title };
}

describe('autoinstall stage', () => {
  it('writes /nocloud/user-data and meta-data (22.04: no /autoinstall.yaml)', async () => {
    const { tree, title } = await runStage('22.04');
    expect(readFileSync(path.join(tree, 'nocloud/user-data'), 'utf8')).toMatch(/^#cloud-config\n[\s\S]*\nautoinstall:\n  version: 1\n/);
    expect(readFileSync(path.join(tree, 'nocloud/meta-data'), 'utf8')).toBe('instance-id: novasphere-fixture-v2.0.0\nlocal-hostname: novasphere-fixture\n');
    expect(statSync(path.join(tree, 'nocloud/user-data')).mode & 0o777).toBe(0o644);
    expect(existsSync(path.join(tree, 'autoinstall.yaml'))).toBe(false);
    expect(title).toBe('Write autoinstall: /nocloud/user-data, meta-data');
  });

  it('also writes /autoinstall.yaml for 24.04', async () => {
    const { tree, title } = await runStage('24.04');
    expect(readFileSync(path.join(tree, 'autoinstall.yaml'), 'utf8')).toBe(readFileSync(path.join(tree, 'nocloud/user-data'), 'utf8'));
    expect(title).toContain('/autoinstall.yaml');
  });

  it('is skipped without an autoinstall section', async () => {
    const fixture = await loadProfile('profiles/fixture.yaml', { basePath: 'x.iso', baseSha256: 'a'.repeat(64) });
    expect(autoinstallSkip({ profile: { ...fixture, autoinstall: undefined } })).toBe('no autoinstall in the profile');
  });
});
