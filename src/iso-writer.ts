/** Which ISO writer a build may use (ISO_BUILD_ISO_WRITER), read once and checked before any stage runs. */
import { usageError } from './errors.js';

export const ISO_WRITER_ENV = 'ISO_BUILD_ISO_WRITER';

/** `auto`: in place where the writer handles the base and the edits, else xorriso; `xorriso`: always xorriso. */
export type IsoWriterChoice = 'auto' | 'xorriso';

export function isoWriterChoice(env: NodeJS.ProcessEnv = process.env): IsoWriterChoice {
  const asked = env[ISO_WRITER_ENV];
  if (asked === undefined || asked === '' || asked === 'auto') return 'auto';
  if (asked === 'xorriso') return 'xorriso';
  throw usageError(`${ISO_WRITER_ENV}=${asked} is not a writer`, `use ${ISO_WRITER_ENV}=auto (the default: in place where it can) or ${ISO_WRITER_ENV}=xorriso`);
}
