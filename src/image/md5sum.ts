/** md5sum.txt of an ISO checked in place: every listed file is read from the image, nothing is extracted. */
import { createHash } from 'node:crypto';
import type { IsoImage } from './iso9660.js';

export interface Md5Problem {
  kind: 'malformed' | 'missing' | 'mismatch';
  message: string;
}

export interface Md5Report {
  /** False when the ISO has no md5sum.txt. */
  present: boolean;
  listed: number;
  ok: number;
  problems: Md5Problem[];
}

export async function checkIsoMd5sums(iso: IsoImage, onProgress?: (n: number, total: number) => void): Promise<Md5Report> {
  const file = await iso.lookup('/md5sum.txt');
  if (!file || file.isDir) return { present: false, listed: 0, ok: 0, problems: [] };
  const lines = (await iso.readAll(file, 64 << 20)).toString('utf8').split('\n').filter(Boolean);
  const report: Md5Report = { present: true, listed: lines.length, ok: 0, problems: [] };
  let n = 0;
  for (const line of lines) {
    onProgress?.(++n, lines.length);
    const m = /^([0-9a-f]{32}) [ *]\.\/(.+)$/.exec(line);
    if (!m) {
      report.problems.push({ kind: 'malformed', message: `md5sum.txt has a malformed line: ${line}` });
      continue;
    }
    const [, listed, path] = m as unknown as [string, string, string];
    const entry = await iso.lookup(`/${path}`);
    if (!entry || entry.isDir) {
      report.problems.push({ kind: 'missing', message: `md5sum.txt lists ./${path}, which is not in the ISO` });
      continue;
    }
    const hash = createHash('md5');
    for await (const chunk of iso.read(entry)) hash.update(chunk);
    const actual = hash.digest('hex');
    if (actual === listed) report.ok++;
    else report.problems.push({ kind: 'mismatch', message: `md5sum.txt mismatch for ./${path}: listed ${listed}, ISO has ${actual}` });
  }
  return report;
}
