/**
 * `iso-build profile show FILE` prints the fully resolved profile (extends merged, ${VAR}s replaced, defaults
 * filled, paths absolute); `iso-build profile validate FILE` checks it without building, rendering and validating
 * the autoinstall templates and the boot menu title too.
 */
import { stringify } from 'yaml';
import { renderAutoinstall } from '../profile/autoinstall.js';
import { loadProfile, renderOutputName } from '../profile/load.js';
import { renderTemplate, TemplateError } from '../profile/template.js';
import { usageError } from '../errors.js';
import type { Profile } from '../profile/schema.js';

export interface ProfileCommandOptions {
  version?: string;
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
  const checked = [`output ${renderOutputName(profile, version)}`];
  if (profile.autoinstall !== undefined) {
    const rendered = renderAutoinstall(profile, version);
    checked.push(`autoinstall user-data (${rendered.userData.split('\n').length} lines), meta-data${rendered.writeRootYaml ? ', /autoinstall.yaml' : ''}`);
  }
  if (profile.bootMenu) checked.push(`boot menu "${bootTitle(profile, profile.bootMenu.title, version)}"`);
  const hooks = Object.values(profile.hooks).flat().length;
  if (hooks > 0) checked.push(`${hooks} hook${hooks === 1 ? '' : 's'}`);
  process.stdout.write(`${profile.file}: OK (${checked.join('; ')})\n`);
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
