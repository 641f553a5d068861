/**
 * The shell scripts rendered from the profile's Handlebars templates (install.sh, bringup.sh): one set of rules and
 * helpers for both. Strict (an unknown variable is an error), no HTML escaping; `{{sh x}}` shell-quotes a value,
 * `{{words list}}` makes a list of quoted words, `{{join list}}` one space-separated string, `{{ctrName ref}}` the
 * name containerd lists an imported image under (docker.io/ and :latest explicit).
 */
import { existsSync } from 'node:fs';
import Handlebars from 'handlebars';
import { usageError } from '../errors.js';
import { readBoundedText } from '../profile/source.js';
import { shellQuote } from '../tools/process.js';
import { normalizeReference } from './images.js';

const asList = (list: unknown): unknown[] => (Array.isArray(list) ? list : []);

/** `setting` is the profile key naming the template (for messages), `script` what it renders, e.g. `install.sh`. */
export function readShellTemplate(setting: string, script: string, file: string): string {
  if (!existsSync(file)) throw usageError(`${setting}: template not found: ${file}`, `point ${setting} at a Handlebars template of ${script}`);
  return readBoundedText(file, `${setting} template`);
}

export function renderShellTemplate(setting: string, template: string, vars: object): string {
  const hb = Handlebars.create();
  hb.registerHelper('sh', (value: unknown) => shellQuote(String(value)));
  hb.registerHelper('words', (list: unknown) => asList(list).map((v) => shellQuote(String(v))).join(' '));
  hb.registerHelper('join', (list: unknown) => asList(list).map(String).join(' '));
  hb.registerHelper('ctrName', (ref: unknown) => normalizeReference(String(ref)));
  try {
    return hb.compile(template, { noEscape: true, strict: true })(vars);
  } catch (err) {
    throw usageError(`${setting}: the template does not render: ${(err as Error).message}`);
  }
}
