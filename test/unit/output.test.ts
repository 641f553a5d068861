/** Which symbols the CLI uses, decided by the locale the way the C library picks it (NO_COLOR: test/integration/cli.test.ts). */
import { describe, expect, it } from 'vitest';
import { symbol, unicodeLocale } from '../../src/output.js';

describe('output conventions', () => {
  it.each([
    [{ LANG: 'C.UTF-8' }, true],
    [{ LANG: 'en_US.utf8' }, true],
    [{ LC_ALL: 'C', LANG: 'C.UTF-8' }, false], // LC_ALL wins
    [{ LC_CTYPE: 'POSIX', LANG: 'de_DE.UTF-8' }, false], // then LC_CTYPE
    [{ LC_ALL: '', LC_CTYPE: 'en_GB.UTF-8' }, true], // an empty variable counts as unset
    [{}, false], // no locale: the POSIX locale, ASCII
  ])('unicode in %j: %s', (env, unicode) => {
    expect(unicodeLocale(env)).toBe(unicode);
    expect(symbol('ok', env)).toBe(unicode ? '✔' : 'OK');
  });

});
