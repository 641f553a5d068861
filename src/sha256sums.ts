/** SHA256SUMS files: GNU `<hash>  name` / `<hash> *name` (sha256sum, text or binary mode) and BSD `SHA256 (name) = <hash>` lines. */

/** File name to lower-case sha256; a leading `./` is dropped; other lines are ignored; the first line for a name counts. */
export function parseSha256Sums(text: string): Map<string, string> {
  const sums = new Map<string, string>();
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    const gnu = /^([0-9a-fA-F]{64}) [ *](?:\.\/)?(.+)$/.exec(line);
    const bsd = /^SHA256 \((?:\.\/)?(.+)\) = ([0-9a-fA-F]{64})$/.exec(line);
    const [name, hash] = gnu ? [gnu[2], gnu[1]] : bsd ? [bsd[1], bsd[2]] : [];
    if (name !== undefined && hash !== undefined && !sums.has(name)) sums.set(name, hash.toLowerCase());
  }
  return sums;
}

/** The sha256 a SHA256SUMS text lists for `name`, if any. */
export function findSha256(sums: string, name: string): string | undefined {
  return parseSha256Sums(sums).get(name);
}
