/** ISO_BUILD_ISO_WRITER: the writer a build may use, and a clear usage error for anything else. */
import { describe, expect, it } from 'vitest';
import { isoWriterChoice } from '../../src/iso-writer.js';
import { ExitCode, IsoBuildError } from '../../src/errors.js';

describe('isoWriterChoice', () => {
  it('auto unless xorriso is asked for', () => {
    expect(isoWriterChoice({})).toBe('auto');
    expect(isoWriterChoice({ ISO_BUILD_ISO_WRITER: '' })).toBe('auto');
    expect(isoWriterChoice({ ISO_BUILD_ISO_WRITER: 'auto' })).toBe('auto');
    expect(isoWriterChoice({ ISO_BUILD_ISO_WRITER: 'xorriso' })).toBe('xorriso');
  });

  it('anything else is a usage error naming both values', () => {
    let err: unknown;
    try {
      isoWriterChoice({ ISO_BUILD_ISO_WRITER: 'mkisofs' });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(IsoBuildError);
    expect((err as IsoBuildError).exitCode).toBe(ExitCode.Usage);
    expect((err as IsoBuildError).message).toBe('ISO_BUILD_ISO_WRITER=mkisofs is not a writer');
    expect((err as IsoBuildError).hint).toMatch(/auto.*xorriso/);
  });
});
