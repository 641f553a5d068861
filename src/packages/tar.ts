/**
 * A streaming tar reader (ustar, pax and GNU long names; optionally gzip- or zstd-compressed): every regular file's size and
 * sha256, and the content of the small ones. Image archives can be gigabytes, so nothing else is kept in memory.
 */
import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { Transform } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { Decompress as ZstdStream } from 'fzstd';

export interface TarFile {
  /** Path without a leading "./". */
  name: string;
  size: number;
  sha256: string;
  /** The content, when it was at most `keepBytes` long. */
  data?: Buffer;
}

export interface TarScan {
  files: Map<string, TarFile>;
  /** The archive ended in the middle of an entry or before its end-of-archive blocks. */
  truncated: boolean;
  /**
   * Members an extractor would place or point outside its target directory: an absolute path or a `..` component,
   * a symlink with an absolute target or one that climbs out, a hard link to such a path ("name -> target").
   */
  unsafe: string[];
  gzip: boolean;
}

export class TarFormatError extends Error {}

const BLOCK = 512;

function cString(buf: Buffer, start: number, length: number): string {
  const slice = buf.subarray(start, start + length);
  const nul = slice.indexOf(0);
  return slice.subarray(0, nul === -1 ? slice.length : nul).toString('utf8');
}

function octal(buf: Buffer, start: number, length: number): number {
  if ((buf[start]! & 0x80) !== 0) {
    // base-256 (GNU) for sizes >= 8 GiB
    let value = 0;
    for (let i = start + 1; i < start + length; i++) value = value * 256 + buf[i]!;
    return value;
  }
  const text = cString(buf, start, length).trim();
  return text === '' ? 0 : parseInt(text, 8);
}

function checksumOk(header: Buffer): boolean {
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 32 : header[i]!;
  return sum === octal(header, 148, 8);
}

function paxRecords(data: Buffer): Record<string, string> {
  const out: Record<string, string> = {};
  let pos = 0;
  while (pos < data.length) {
    const space = data.indexOf(0x20, pos);
    if (space === -1) break;
    const len = Number(data.subarray(pos, space).toString());
    if (!len) break;
    const record = data.subarray(space + 1, pos + len - 1).toString('utf8');
    const eq = record.indexOf('=');
    if (eq > 0) out[record.slice(0, eq)] = record.slice(eq + 1);
    pos += len;
  }
  return out;
}

type Compression = 'gzip' | 'zstd' | undefined;

/** By magic number, not by name: k3s names its air-gap bundles .tar.zst and imports them by content too. */
async function compressionOf(file: string): Promise<Compression> {
  const fh = await open(file, 'r');
  try {
    const { bytesRead, buffer } = await fh.read(Buffer.alloc(4), 0, 4, 0);
    if (bytesRead >= 2 && buffer[0] === 0x1f && buffer[1] === 0x8b) return 'gzip';
    if (bytesRead === 4 && buffer.readUInt32LE(0) === 0xfd2fb528) return 'zstd';
    return undefined;
  } finally {
    await fh.close();
  }
}

/** A streaming zstd decompressor (node 20's zlib has none): fzstd's frame decoder behind a Transform. */
function zstdDecompressor(): Transform {
  let push: (chunk: Uint8Array) => void = () => undefined;
  const decoder = new ZstdStream((chunk) => push(chunk));
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      push = (c) => this.push(Buffer.from(c));
      try {
        decoder.push(chunk);
        done();
      } catch (err) {
        done(new Error(`zstd: ${(err as Error).message}`));
      }
    },
    flush(done) {
      push = (c) => this.push(Buffer.from(c));
      try {
        decoder.push(new Uint8Array(0), true);
        done();
      } catch (err) {
        done(new Error(`zstd: unexpected end of file (${(err as Error).message})`));
      }
    },
  });
}

/** Reads a whole tar archive; throws TarFormatError when it is not one. Truncation is reported, not thrown. */
export async function scanTar(file: string, keepBytes = 4 << 20): Promise<TarScan> {
  const compression = await compressionOf(file);
  const gzip = compression === 'gzip';
  const raw = createReadStream(file);
  const stream = compression === 'gzip' ? raw.pipe(createGunzip()) : compression === 'zstd' ? raw.pipe(zstdDecompressor()) : raw;
  const files = new Map<string, TarFile>();
  let pending: Buffer = Buffer.alloc(0);
  // current entry
  let remaining = 0; // content bytes left
  let padding = 0; // padding bytes left after the content
  let hash: Hash | undefined;
  let chunks: Buffer[] | undefined;
  let entry: { name: string; size: number; type: string } | undefined;
  let pax: Record<string, string> = {};
  let longName: string | undefined;
  let longLink: string | undefined;
  const unsafe: string[] = [];
  let ended = false;
  let zeroBlocks = 0;
  let sawHeader = false;

  const finishEntry = (): void => {
    if (!entry) return;
    const data = chunks ? Buffer.concat(chunks) : undefined;
    if (entry.type === 'x') pax = paxRecords(data ?? Buffer.alloc(0));
    else if (entry.type === 'L') longName = cString(data ?? Buffer.alloc(0), 0, data?.length ?? 0);
    else if (entry.type === 'K') longLink = cString(data ?? Buffer.alloc(0), 0, data?.length ?? 0);
    else if (entry.type === '0' || entry.type === '\0' || entry.type === '' || entry.type === '7') {
      files.set(entry.name, { name: entry.name, size: entry.size, sha256: hash!.digest('hex'), ...(data && entry.size <= keepBytes ? { data } : {}) });
    }
    entry = undefined;
    hash = undefined;
    chunks = undefined;
  };

  const onHeader = (header: Buffer): void => {
    if (header.every((b) => b === 0)) {
      zeroBlocks++;
      if (zeroBlocks >= 2) ended = true;
      return;
    }
    zeroBlocks = 0;
    if (!checksumOk(header)) throw new TarFormatError(`${file}: not a tar archive (bad header checksum)`);
    sawHeader = true;
    const type = String.fromCharCode(header[156]!).replace('\0', '0');
    let name = cString(header, 0, 100);
    const magic = cString(header, 257, 6);
    if (magic.startsWith('ustar')) {
      const prefix = cString(header, 345, 155);
      if (prefix) name = `${prefix}/${name}`;
    }
    let size = octal(header, 124, 12);
    let link = cString(header, 157, 100);
    if (type !== 'x' && type !== 'g' && type !== 'L' && type !== 'K') {
      if (pax.path) name = pax.path;
      if (pax.size) size = Number(pax.size);
      if (pax.linkpath) link = pax.linkpath;
      if (longName) name = longName;
      if (longLink) link = longLink;
      pax = {};
      longName = undefined;
      longLink = undefined;
      const why = unsafeMember(name, type, link);
      if (why) unsafe.push(why);
    }
    name = name.replace(/^(\.\/)+/, '');
    entry = { name, size, type };
    const hasData = !['5', '2', '1', '3', '4', '6'].includes(type);
    remaining = hasData ? size : 0;
    padding = hasData ? (BLOCK - (size % BLOCK)) % BLOCK : 0;
    hash = createHash('sha256');
    chunks = type === 'x' || type === 'L' || type === 'K' || size <= keepBytes ? [] : undefined;
    if (remaining === 0 && padding === 0) finishEntry();
  };

  let cut = false;
  try {
    await consume();
  } catch (err) {
    if (err instanceof TarFormatError) throw err;
    // zlib: "unexpected end of file" for a cut .tar.gz
    if ((err as { code?: string }).code === 'Z_BUF_ERROR') cut = true;
    else if (compression === 'zstd' && /unexpected end/.test((err as Error).message)) cut = true;
    else if (compression) throw new TarFormatError(`${file}: not a ${compression}-compressed tar archive (${(err as Error).message})`);
    else throw err;
  }
  if (!sawHeader) throw new TarFormatError(`${file}: not a tar archive (empty)`);
  // A missing end-of-archive marker alone is tolerated (some writers omit it); a cut entry is not.
  const truncated = cut || (entry !== undefined && (remaining > 0 || padding > 0)) || (!ended && pending.length > 0);
  return { files, truncated, gzip, unsafe };

  async function consume(): Promise<void> {
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    if (ended) continue;
    pending = pending.length ? Buffer.concat([pending, chunk]) : chunk;
    let pos = 0;
    while (!ended) {
      if (entry && remaining > 0) {
        const take = Math.min(remaining, pending.length - pos);
        if (take === 0) break;
        const part = pending.subarray(pos, pos + take);
        hash!.update(part);
        chunks?.push(Buffer.from(part));
        remaining -= take;
        pos += take;
        if (remaining === 0 && padding === 0) finishEntry();
        continue;
      }
      if (entry && padding > 0) {
        const take = Math.min(padding, pending.length - pos);
        if (take === 0) break;
        padding -= take;
        pos += take;
        if (padding === 0) finishEntry();
        continue;
      }
      if (pending.length - pos < BLOCK) break;
      onHeader(pending.subarray(pos, pos + BLOCK));
      pos += BLOCK;
    }
    pending = pending.subarray(pos);
  }
  }
}

/** Why a member would leave the directory it is extracted into, or undefined (see TarScan.unsafe). */
function unsafeMember(name: string, type: string, link: string): string | undefined {
  const climbs = (p: string): boolean => p.split('/').includes('..');
  if (name.startsWith('/') || climbs(name)) return name;
  if (type === '1' && (link.startsWith('/') || climbs(link))) return `${name} -> ${link} (hard link)`;
  if (type === '2') {
    if (link.startsWith('/')) return `${name} -> ${link}`;
    let depth = name.replace(/^(\.\/)+/, '').split('/').filter((p) => p !== '' && p !== '.').length - 1;
    for (const part of link.split('/')) {
      depth += part === '..' ? -1 : part === '' || part === '.' ? 0 : 1;
      if (depth < 0) return `${name} -> ${link}`;
    }
  }
  return undefined;
}
