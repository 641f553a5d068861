/** /opt/novasphere/install.sh: rendered with Handlebars from a template in the profile's directory. */
import { readFileSync } from 'node:fs';
import Handlebars from 'handlebars';
import { usageError } from '../errors.js';
import { shellQuote } from '../tools/process.js';
import { normalizeReference } from './images.js';

export interface InstallScriptVars {
  product: string;
  name: string;
  payloadDir: string;
  repoDir: string;
  sourcesEntry: string;
  keyring: string;
  /** Package names install.sh installs from the embedded repository. */
  system: string[];
  images: { reference: string; digest: string; file: string; format: string }[];
  k3sAirgap: boolean;
  k3sImagesDir: string;
}

export function readInstallTemplate(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    throw usageError(`packages.installScript: template not found: ${file}`, 'point packages.installScript at a Handlebars template of install.sh');
  }
}

/** Strict (unknown variables are errors), no HTML escaping; `{{sh x}}` shell-quotes a value, `{{words list}}` a list. */
export function renderInstallScript(template: string, vars: InstallScriptVars): string {
  const hb = Handlebars.create();
  hb.registerHelper('sh', (value: unknown) => shellQuote(String(value)));
  // the name containerd lists an imported image under (docker.io/ and :latest explicit): install.sh's "already there" check
  hb.registerHelper('ctrName', (ref: unknown) => normalizeReference(String(ref)));
  hb.registerHelper('words', (list: unknown) => (Array.isArray(list) ? list.map((v) => shellQuote(String(v))).join(' ') : ''));
  try {
    return hb.compile(template, { noEscape: true, strict: true })(vars);
  } catch (err) {
    throw usageError(`packages.installScript: the template does not render: ${(err as Error).message}`);
  }
}
