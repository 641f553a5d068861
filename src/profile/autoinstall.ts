/**
 * Rendering the autoinstall templates (cloud-init user-data / meta-data) and validating what they render
 * before anything is written: valid YAML, `autoinstall:` with `version: 1`, only sections subiquity knows,
 * with the types it accepts. Errors name the template, the rendered line and the key.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import Handlebars from 'handlebars';
import * as z from 'zod';
import { usageError, type IsoBuildError } from '../errors.js';
import { problemsFromIssues } from './issues.js';
import { locate, parseProfileYaml, type Problem, type ProfileSource } from './source.js';
import type { Profile } from './schema.js';

const commandList = z.array(
  z.unknown().refine(
    (c) => typeof c === 'string' || (Array.isArray(c) && c.every((s) => typeof s === 'string')),
    'expected a command: a string or a list of strings',
  ),
);
const mapping = () => z.looseObject({});

/** The autoinstall sections subiquity accepts (https://canonical-subiquity.readthedocs-hosted.com/en/latest/reference/autoinstall-reference.html). */
export const AutoinstallConfigSchema = z.strictObject({
  version: z.literal(1),
  'interactive-sections': z.array(z.string()).optional(),
  'early-commands': commandList.optional(),
  locale: z.string().optional(),
  'refresh-installer': z.looseObject({ update: z.boolean().optional(), channel: z.string().optional() }).optional(),
  keyboard: z.looseObject({ layout: z.string(), variant: z.string().optional(), toggle: z.string().nullable().optional() }).optional(),
  source: z.looseObject({ search_drivers: z.boolean().optional(), id: z.string().optional() }).optional(),
  network: mapping().optional(),
  proxy: z.string().nullable().optional(),
  apt: z
    .looseObject({
      preserve_sources_list: z.boolean().optional(),
      geoip: z.boolean().optional(),
      sources: mapping().optional(),
      fallback: z.enum(['abort', 'continue-anyway', 'offline-install']).optional(),
      primary: z.array(mapping()).optional(),
      'disable_components': z.array(z.string()).optional(),
    })
    .optional(),
  storage: z.looseObject({ layout: z.looseObject({ name: z.string() }).optional(), config: z.array(mapping()).optional() }).optional(),
  identity: z
    .strictObject({ realname: z.string().optional(), username: z.string(), hostname: z.string(), password: z.string() })
    .optional(),
  'active-directory': mapping().optional(),
  'ubuntu-pro': z.looseObject({ token: z.string().optional() }).optional(),
  'ubuntu-advantage': z.looseObject({ token: z.string().optional() }).optional(),
  ssh: z
    .strictObject({ 'install-server': z.boolean().optional(), 'authorized-keys': z.array(z.string()).optional(), 'allow-pw': z.boolean().optional() })
    .optional(),
  codecs: z.strictObject({ install: z.boolean() }).optional(),
  drivers: z.strictObject({ install: z.boolean() }).optional(),
  oem: z.strictObject({ install: z.unknown().refine((v) => typeof v === 'boolean' || v === 'auto', 'expected true, false or "auto"') }).optional(),
  snaps: z.array(z.looseObject({ name: z.string(), channel: z.string().optional(), classic: z.boolean().optional() })).optional(),
  'debconf-selections': z.string().optional(),
  packages: z.array(z.string()).optional(),
  kernel: z.strictObject({ package: z.string().optional(), flavor: z.string().optional() }).optional(),
  'kernel-crash-dumps': z.strictObject({ enabled: z.boolean().nullable() }).optional(),
  timezone: z.string().optional(),
  updates: z.enum(['security', 'all']).optional(),
  shutdown: z.enum(['reboot', 'poweroff']).optional(),
  'late-commands': commandList.optional(),
  'error-commands': commandList.optional(),
  reporting: mapping().optional(),
  'user-data': mapping().optional(),
  zdevs: z.array(mapping()).optional(),
});

const UserDataSchema = z.looseObject({ autoinstall: AutoinstallConfigSchema });

export interface RenderedAutoinstall {
  userData: string;
  metaData: string;
  /** Also write user-data to /autoinstall.yaml (Ubuntu 24.04 and later read it from the ISO root). */
  writeRootYaml: boolean;
}

/** What the templates see. */
export function templateVariables(profile: Profile, version: string): Record<string, unknown> {
  const a = profile.autoinstall;
  if (a === undefined) throw new Error('templateVariables: the profile has no autoinstall section');
  const { userData: _u, metaData: _m, ...fields } = a;
  return {
    ...fields,
    hostname: a.hostname ?? profile.name,
    realname: a.realname ?? a.username,
    passwordHash: a.passwordHash ?? '',
    name: profile.name,
    product: profile.product,
    version,
    vars: profile.vars ?? {},
  };
}

function handlebars(): typeof Handlebars {
  const hb = Handlebars.create();
  // A YAML double-quoted scalar (JSON is valid YAML): safe for any string, list or mapping.
  hb.registerHelper('json', (value: unknown) => JSON.stringify(value ?? null));
  return hb;
}

function display(file: string): string {
  const rel = path.relative(process.cwd(), file);
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : file;
}

/** Renders one template; a template error names the file and, when handlebars says it, the line. */
export function renderHandlebars(file: string, vars: Record<string, unknown>): string {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw usageError(`autoinstall template not found: ${display(file)}`, `${String((err as Error).message)}`);
  }
  try {
    return handlebars().compile(text, { strict: true, noEscape: true })(vars);
  } catch (err) {
    const message = err instanceof Error ? err.message.split('\n')[0] ?? err.message : String(err);
    const line = /line (\d+)/i.exec(message)?.[1] ?? / - (\d+):\d+$/.exec(message)?.[1];
    const where = line === undefined ? display(file) : `${display(file)}:${line}`;
    throw usageError(`${where}: template error: ${message}`, `variables: ${Object.keys(vars).join(', ')}`);
  }
}

function renderedLineError(template: string, source: ProfileSource, text: string, problem: Problem): IsoBuildError {
  const { line } = locate(source, problem);
  const lineText = (text.split('\n')[line - 1] ?? '').trim();
  const hint = [problem.hint, `the rendered line ${line} is: ${lineText}`].filter(Boolean).join('; ');
  return usageError(`${display(template)}: rendered line ${line}: ${problem.text}`, hint);
}

/** Checks rendered user-data: YAML, `autoinstall:` with `version: 1`, known sections with the types subiquity accepts. */
export function validateUserData(template: string, text: string): void {
  const source = parseRendered(template, text);
  const data: unknown = source.doc.toJS();
  if (typeof data !== 'object' || data === null || Array.isArray(data) || !('autoinstall' in data)) {
    throw usageError(`${display(template)}: the rendered user-data has no top-level "autoinstall:" section`, 'start it with "#cloud-config" and "autoinstall:" with "version: 1"');
  }
  const parsed = UserDataSchema.safeParse(data);
  if (parsed.success) return;
  const problems = problemsFromIssues(parsed.error.issues, data, UserDataSchema);
  const first = problems
    .map((p) => ({ p, offset: locate(source, p).offset }))
    .sort((a, b) => a.offset - b.offset)[0]!.p;
  throw renderedLineError(template, source, text, first);
}

/** meta-data: YAML, a mapping (or empty). */
export function validateMetaData(template: string, text: string): void {
  const source = parseRendered(template, text);
  const data: unknown = source.doc.toJS();
  if (data !== null && data !== undefined && (typeof data !== 'object' || Array.isArray(data))) {
    throw usageError(`${display(template)}: rendered meta-data must be a YAML mapping (e.g. "instance-id: ...")`);
  }
}

function parseRendered(template: string, text: string): ProfileSource {
  try {
    return parseProfileYaml(`${display(template)} (rendered)`, text);
  } catch (err) {
    // "<file> (rendered):L:C: invalid YAML: ..." -> name the rendered line
    const e = err as IsoBuildError;
    const m = /^(.*) \(rendered\):(\d+):\d+: (.*)$/.exec(e.message);
    if (m === null) throw err;
    const line = Number(m[2]);
    throw usageError(`${m[1]}: rendered line ${line}: ${m[3]}`, `the rendered line ${line} is: ${(text.split('\n')[line - 1] ?? '').trim()}`);
  }
}

/** Renders and validates the profile's templates; throws a usage error naming the template and line. */
export function renderAutoinstall(profile: Profile, version: string): RenderedAutoinstall {
  const a = profile.autoinstall;
  if (a === undefined) throw new Error('renderAutoinstall: the profile has no autoinstall section');
  const vars = templateVariables(profile, version);
  const userData = renderHandlebars(a.userData, vars);
  validateUserData(a.userData, userData);
  let metaData = `instance-id: ${profile.name}-${version}\n`;
  if (a.metaData !== undefined) {
    metaData = renderHandlebars(a.metaData, vars);
    validateMetaData(a.metaData, metaData);
  }
  const [major = 0] = a.release.split('.').map(Number);
  return { userData, metaData, writeRootYaml: major >= 24 };
}
