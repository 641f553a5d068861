/**
 * The release directory beside the ISO: build-manifest.json, RELEASE-NOTES.md, SHA256SUMS (of all of them) and its
 * detached gpg signature SHA256SUMS.asc, and report.html (not in SHA256SUMS: src/release/report.ts says why).
 * Each is written as NAME.partial (a fresh file: never through a link that is there) and staged; publish.ts renames
 * them all into place at once, the ISO last, or removes them if anything fails.
 */
import { readFileSync, statSync, writeFileSync, rmSync } from 'node:fs';
import { basename, join } from 'node:path';
import { buildManifest, sha256Of, type BuiltIso } from './manifest.js';
import { comparedToPrevious, renderNotes } from './notes.js';
import { MANIFEST_NAME, NOTES_NAME, REPORT_NAME, SIGNATURE_NAME, SUMS_NAME } from '../product.js';
import { signFileDetached, signingKeyFingerprint } from '../tools/gpg.js';
import { signingKey } from './signing-key.js';
import { stagedName } from './staging.js';
import { parseTimeline } from '../pipeline/timing-log.js';
import { writeReport } from './report.js';
import type { BuildInputs } from '../context.js';
import type { Reporter } from '../pipeline/reporter.js';

/** A release file written under its staging name, and the name it gets when the release is complete. */
export interface StagedFile {
  partial: string;
  final: string;
}

/**
 * Writes the artifacts under their staging names; `staged` gets each file as soon as it may exist (for removal on
 * failure). Returns a warning, if any.
 */
export async function writeReleaseArtifacts(
  ctx: BuildInputs,
  built: BuiltIso,
  task: Reporter,
  staged: StagedFile[],
): Promise<{ warning?: string; signedBy?: string }> {
  const dir = ctx.outputDir;
  const stage = (name: string): string => {
    const file = { final: join(dir, name), partial: stagedName(join(dir, name)) };
    rmSync(file.partial, { force: true });
    staged.push(file);
    return file.partial;
  };
  // 'wx': a new file, so a symlink someone put at the staging name is never written through
  const write = (name: string, content: string): void => writeFileSync(stage(name), content, { mode: 0o644, flag: 'wx' });

  task.output = 'build-manifest.json: hashing inputs, reading tool versions';
  const manifest = await buildManifest(ctx, built, statSync(ctx.partialIso).size);
  const manifestText = `${JSON.stringify(manifest, null, 2)}\n`;
  write(MANIFEST_NAME, manifestText);

  const key = signingKey(ctx);
  const fingerprint = key ? await signingKeyFingerprint(key, { log: ctx.log }) : undefined;
  const previous = await comparedToPrevious(dir, manifest);
  ctx.log.line(`release notes: previous release ${previous ? `${previous.manifest.version} in ${previous.dir}` : 'none'}`);
  const notes = await renderNotes({ manifest, previous, signed: key && fingerprint ? { key, fingerprint } : undefined });
  write(NOTES_NAME, notes);

  const listed: [hash: string, name: string][] = [
    [built.isoSha256, basename(ctx.outputIso)],
    [sha256Of(manifestText), MANIFEST_NAME],
    [sha256Of(notes), NOTES_NAME],
  ];
  const sums = listed
    .sort((a, b) => (a[1] < b[1] ? -1 : 1))
    .map(([hash, name]) => `${hash}  ${name}\n`)
    .join('');
  write(SUMS_NAME, sums);

  let result: { warning?: string; signedBy?: string };
  if (!key) {
    const warning = `warning: ${SUMS_NAME} is not signed: no gpg key named (set release.gpgKey in the profile or ISO_BUILD_GPG_KEY)`;
    ctx.log.line(warning);
    result = { warning };
  } else {
    task.output = `signing ${SUMS_NAME} with ${key}`;
    await signFileDetached(stagedName(join(dir, SUMS_NAME)), stage(SIGNATURE_NAME), key, { log: ctx.log });
    result = { signedBy: fingerprint };
  }

  // The timeline has every stage up to this one (`iso-build report DIR --log` redraws it with the rest).
  task.output = `${REPORT_NAME}: reading the ISO's parts`;
  try {
    const timeline = parseTimeline(readFileSync(ctx.log.path, 'utf8'));
    await writeReport({ releaseDir: dir, isoPath: ctx.partialIso, isoName: basename(ctx.outputIso), isoSha256: built.isoSha256, manifest, previous, timeline, stagedPath: stage(REPORT_NAME) });
  } catch (err) {
    if (isNoSpace(err)) throw err; // a full disk fails the release, it is not a missing report
    // The release is complete without its report: say so, do not fail the build.
    const warning = `warning: ${REPORT_NAME} not written: ${err instanceof Error ? err.message : String(err)}`;
    ctx.log.line(warning);
    result.warning = [result.warning, warning].filter(Boolean).join('; ');
  }
  return result;
}

export function isNoSpace(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  return code === 'ENOSPC' || code === 'EDQUOT';
}
