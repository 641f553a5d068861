/**
 * `iso-build profile show FILE` prints the fully resolved profile (extends merged, ${VAR}s replaced, defaults
 * filled, paths absolute); `iso-build profile validate FILE` checks it without building, rendering and validating
 * the autoinstall templates and the boot menu title too.
 */
import { stringify } from 'yaml';
import { loadProfile, renderOutputName } from '../profile/load.js';
import { renderTemplate, TemplateError } from '../profile/template.js';
import { usageError } from '../errors.js';
import { result, resultJson, warning } from '../output.js';
import type { Profile } from '../profile/schema.js';

export interface ProfileCommandOptions {
  version?: string;
  /** Print ProfileValidateResult as JSON. */
  json?: boolean;
}

/** `profile validate --json` (docs/cli-json.md). A profile that does not validate is an error (exit 2), not a result. */
export interface ProfileValidateResult {
  profile: string;
  ok: true;
  version: string;
  output: string;
  autoinstall?: { userDataLines: number; metaData: true; rootAutoinstallYaml: boolean; warnings: string[] };
  bootMenuTitle?: string;
  hooks: number;
}

const SAMPLE_VERSION = 'v0.0.0';

export async function profileShowCommand(file: string): Promise<number> {
  const profile = await loadProfile(file);
  process.stdout.write(`# ${profile.file}, fully resolved\n${stringify(profile, { lineWidth: 0 })}`);
  return 0;
}

export async function profileValidateCommand(file: string, opts: ProfileCommandOptions = {}): Promise<number> {
  const version = opts.version ?? SAMPLE_VERSION;
  const profile = await loadProfile(file);
  const r: ProfileValidateResult = { profile: profile.file, ok: true, version, output: renderOutputName(profile, version), hooks: Object.values(profile.hooks).flat().length };
  if (profile.autoinstall !== undefined) {
    // handlebars and ajv (subiquity's schema) load only for a profile that has templates to render.
    const rendered = (await import('../profile/autoinstall.js')).renderAutoinstall(profile, version);
    r.autoinstall = { userDataLines: rendered.userData.split('\n').length, metaData: true, rootAutoinstallYaml: rendered.writeRootYaml, warnings: rendered.warnings };
    for (const w of rendered.warnings) warning(w);
  }
  if (profile.bootMenu) r.bootMenuTitle = bootTitle(profile, profile.bootMenu.title, version);
  if (opts.json) {
    resultJson(r);
    return 0;
  }
  const checked = [`output ${r.output}`];
  if (r.autoinstall) checked.push(`autoinstall user-data (${r.autoinstall.userDataLines} lines), meta-data${r.autoinstall.rootAutoinstallYaml ? ', /autoinstall.yaml' : ''}`);
  if (r.bootMenuTitle !== undefined) checked.push(`boot menu "${r.bootMenuTitle}"`);
  if (r.hooks > 0) checked.push(`${r.hooks} hook${r.hooks === 1 ? '' : 's'}`);
  result(`${profile.file}: OK (${checked.join('; ')})`);
  return 0;
}

function bootTitle(profile: Profile, title: string, version: string): string {
  try {
    return renderTemplate(title, { name: profile.name, product: profile.product, version });
  } catch (err) {
    if (err instanceof TemplateError) throw usageError(`${profile.file}: bootMenu.title: ${err.message}`);
    throw err;
  }
}
