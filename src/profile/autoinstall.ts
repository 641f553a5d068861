/**
 * Rendering the autoinstall templates (cloud-init user-data / meta-data) and validating what they render
 * before anything is written: valid YAML, an `autoinstall:` section that subiquity's own schema for the target
 * release accepts (src/profile/autoinstall-schema.ts). Errors and warnings name the template, the rendered line and the key.
 */
import Handlebars from 'handlebars';
import { usageError, type IsoBuildError } from '../errors.js';
import { checkAutoinstall } from './autoinstall-schema.js';
import { displayPath, locate, parseProfileYaml, readBoundedText, yamlData, type Problem, type ProfileSource } from './source.js';
import type { Profile } from './schema.js';

export interface RenderedAutoinstall {
  userData: string;
  metaData: string;
  /** Also write user-data to /autoinstall.yaml (Ubuntu 24.04 and later read it from the ISO root). */
  writeRootYaml: boolean;
  /** Unknown top-level autoinstall keys (subiquity ignores them), as `<template>: rendered line N: ...`. */
  warnings: string[];
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

/** Renders one template; a template error names the file and, when handlebars says it, the line. */
export function renderHandlebars(file: string, vars: Record<string, unknown>): string {
  const text = readBoundedText(file, 'autoinstall template');
  try {
    return handlebars().compile(text, { strict: true, noEscape: true })(vars);
  } catch (err) {
    const message = err instanceof Error ? err.message.split('\n')[0] ?? err.message : String(err);
    const line = /line (\d+)/i.exec(message)?.[1] ?? / - (\d+):\d+$/.exec(message)?.[1];
    const where = line === undefined ? displayPath(file) : `${displayPath(file)}:${line}`;
    throw usageError(`${where}: template error: ${message}`, `variables: ${Object.keys(vars).join(', ')}`);
  }
}

function renderedLineError(template: string, source: ProfileSource, text: string, problem: Problem): IsoBuildError {
  const { line } = locate(source, problem);
  const lineText = (text.split('\n')[line - 1] ?? '').trim();
  const hint = [problem.hint, `the rendered line ${line} is: ${lineText}`].filter(Boolean).join('; ');
  return usageError(`${displayPath(template)}: rendered line ${line}: ${problem.text}`, hint);
}

/**
 * Checks rendered user-data: YAML with an `autoinstall:` section that subiquity's schema for `release` accepts.
 * Throws on the first error (in file order); returns the warnings (unknown top-level keys).
 */
export function validateUserData(template: string, text: string, release = '22.04'): string[] {
  const source = parseRendered(template, text);
  const data: unknown = yamlData(source);
  if (typeof data !== 'object' || data === null || Array.isArray(data) || !('autoinstall' in data)) {
    throw usageError(`${displayPath(template)}: the rendered user-data has no top-level "autoinstall:" section`, 'start it with "#cloud-config" and "autoinstall:" with "version: 1"');
  }
  const { problems, warnings } = checkAutoinstall((data as { autoinstall: unknown }).autoinstall, release);
  if (problems.length > 0) {
    const first = problems.map((p) => ({ p, offset: locate(source, p).offset })).sort((a, b) => a.offset - b.offset)[0]!.p;
    throw renderedLineError(template, source, text, first);
  }
  return warnings.map((w) => {
    const { line } = locate(source, w);
    return `${displayPath(template)}: rendered line ${line}: ${w.text}${w.hint ? ` (${w.hint})` : ''}`;
  });
}

/** meta-data: YAML, a mapping (or empty). */
export function validateMetaData(template: string, text: string): void {
  const source = parseRendered(template, text);
  const data: unknown = yamlData(source);
  if (data !== null && data !== undefined && (typeof data !== 'object' || Array.isArray(data))) {
    throw usageError(`${displayPath(template)}: rendered meta-data must be a YAML mapping (e.g. "instance-id: ...")`);
  }
}

function parseRendered(template: string, text: string): ProfileSource {
  try {
    return parseProfileYaml(`${displayPath(template)} (rendered)`, text);
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
  const warnings = validateUserData(a.userData, userData, a.release);
  let metaData = `instance-id: ${profile.name}-${version}\n`;
  if (a.metaData !== undefined) {
    metaData = renderHandlebars(a.metaData, vars);
    validateMetaData(a.metaData, metaData);
  }
  const [major = 0] = a.release.split('.').map(Number);
  return { userData, metaData, writeRootYaml: major >= 24, warnings };
}
