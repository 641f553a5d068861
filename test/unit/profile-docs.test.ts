import { readFile } from 'node:fs/promises';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { EXAMPLE_PROFILE, profileFields, renderProfileDocs } from '../../src/profile/docs.js';
import { ProfileSchema } from '../../src/profile/schema.js';

describe('docs/profile.md', () => {
  it('is up to date with the schema (regenerate: npx tsx scripts/gen-profile-docs.ts)', async () => {
    expect(await readFile('docs/profile.md', 'utf8')).toBe(renderProfileDocs());
  });

  it('documents every field', () => {
    const fields = profileFields();
    expect(fields.map((f) => f.key)).toContain('overlay[].target');
    for (const field of fields) expect(field.description, field.key).toMatch(/\S/);
  });

  it('has an example that passes the schema and shows every field', () => {
    expect(ProfileSchema.safeParse(parse(EXAMPLE_PROFILE)).error?.issues).toBeUndefined();
    for (const field of profileFields()) {
      const leaf = field.key.split(/\.|\[\]\./).pop() ?? '';
      expect(EXAMPLE_PROFILE, field.key).toMatch(new RegExp(`^[ #-]*${leaf}:`, 'm'));
    }
  });
});
