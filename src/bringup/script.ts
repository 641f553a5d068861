/** /opt/novasphere/bringup.sh: rendered with Handlebars from the profile's `bringup.script` template. */
import { readFileSync } from 'node:fs';
import Handlebars from 'handlebars';
import { usageError } from '../errors.js';
import { shellQuote } from '../tools/process.js';

export interface BringupImage {
  /** File name in the payload's images/ directory. */
  file: string;
  /** The reference as containerd and docker list it after an import (docker.io/ and :latest explicit). */
  reference: string;
  /** Its step name in the state file. */
  step: string;
}

export interface BringupScriptVars {
  product: string;
  payloadDir: string;
  versionFile: string;
  stateFile: string;
  logDir: string;
  sourcesPath: string;
  /** Package names to install from the embedded repository. */
  system: string[];
  images: BringupImage[];
  k3s: boolean;
  k3sFilesDir: string;
  k3sExec: string;
  k3sImagesDir: string;
  /** The HelmChart manifests written at build time (paths on the installed system), checked by the script. */
  chartManifests: string[];
  runtime: 'auto' | 'containerd' | 'docker';
  /** Every step of this version, space-separated, in order (the state file must record each for "nothing to do"). */
  steps: string;
}

export function readBringupTemplate(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    throw usageError(`bringup.script: template not found: ${file}`, 'point bringup.script at a Handlebars template of bringup.sh');
  }
}

/** Strict (unknown variables are errors), no HTML escaping; `{{sh x}}` shell-quotes a value, `{{words list}}` a list of quoted words, `{{join list}}` one space-separated string. */
export function renderBringupScript(template: string, vars: BringupScriptVars): string {
  const hb = Handlebars.create();
  hb.registerHelper('sh', (value: unknown) => shellQuote(String(value)));
  hb.registerHelper('words', (list: unknown) => (Array.isArray(list) ? list.map((v) => shellQuote(String(v))).join(' ') : ''));
  hb.registerHelper('join', (list: unknown) => (Array.isArray(list) ? list.map(String).join(' ') : ''));
  try {
    return hb.compile(template, { noEscape: true, strict: true })(vars);
  } catch (err) {
    throw usageError(`bringup.script: the template does not render: ${(err as Error).message}`);
  }
}
