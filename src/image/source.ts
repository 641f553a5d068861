/**
 * Random access to the bytes of an image file, or of a range inside one (a squashfs inside an ISO is read in place).
 * Every read is checked against the range first, so a corrupt offset gives an error naming the structure, never a short read.
 */
import { open, type FileHandle } from 'node:fs/promises';
import { ExitCode, IsoBuildError } from '../errors.js';

export interface ByteSource {
  /** Human name used in error messages (file path, or "file.iso:/casper/x.squashfs"). */
  readonly name: string;
  readonly size: number;
  /** Exactly `length` bytes at `pos`, or an error naming `what` when the range is outside the source. */
  read(pos: number, length: number, what: string): Promise<Buffer>;
  /** A view of [offset, offset + size) of this source. */
  slice(offset: number, size: number, name: string): ByteSource;
}

/** A structure of an image that cannot be read: names the image and the structure. */
export function corrupt(image: string, structure: string, detail: string): IsoBuildError {
  return new IsoBuildError(`${image}: ${structure} is broken: ${detail}`, {
    hint: 'the image is truncated or corrupt (compare its sha256 with the published one)',
    exitCode: ExitCode.Usage,
  });
}

/** Largest single read we ever do (a directory extent, a table); bigger claims are corruption, not data. */
export const MAX_READ = 256 << 20;

class RangeSource implements ByteSource {
  constructor(
    private readonly file: FileHandle,
    private readonly base: number,
    readonly size: number,
    readonly name: string,
  ) {}

  async read(pos: number, length: number, what: string): Promise<Buffer> {
    if (!Number.isSafeInteger(pos) || !Number.isSafeInteger(length) || pos < 0 || length < 0 || length > MAX_READ || pos + length > this.size) {
      throw corrupt(this.name, what, `${length} bytes at offset ${pos} lie outside the image (${this.size} bytes)`);
    }
    const buf = Buffer.allocUnsafe(length);
    let done = 0;
    while (done < length) {
      const { bytesRead } = await this.file.read(buf, done, length - done, this.base + pos + done);
      if (bytesRead === 0) throw corrupt(this.name, what, `the file ends before offset ${pos + length}`);
      done += bytesRead;
    }
    return buf;
  }

  slice(offset: number, size: number, name: string): ByteSource {
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(size) || offset < 0 || size < 0 || offset + size > this.size) {
      throw corrupt(this.name, name, `range ${offset}+${size} lies outside the image (${this.size} bytes)`);
    }
    return new RangeSource(this.file, this.base + offset, size, name);
  }
}

export interface OpenedSource {
  source: ByteSource;
  close(): Promise<void>;
}

/** Opens a file read-only (no root needed); the caller closes it. */
export async function openSource(path: string): Promise<OpenedSource> {
  let file: FileHandle;
  try {
    file = await open(path, 'r');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new IsoBuildError(`cannot open ${path}: ${code === 'ENOENT' ? 'no such file' : code === 'EACCES' ? 'permission denied' : String(code)}`, {
      hint: 'give the path of an .iso or .squashfs file',
      exitCode: ExitCode.Usage,
      cause: err,
    });
  }
  const st = await file.stat();
  if (!st.isFile()) {
    await file.close();
    throw new IsoBuildError(`${path} is not a file`, { hint: 'give the path of an .iso or .squashfs file', exitCode: ExitCode.Usage });
  }
  return { source: new RangeSource(file, 0, st.size, path), close: () => file.close() };
}

/** Runs `fn` with the opened file and always closes it. */
export async function withSource<T>(path: string, fn: (source: ByteSource) => Promise<T>): Promise<T> {
  const opened = await openSource(path);
  try {
    return await fn(opened.source);
  } finally {
    await opened.close();
  }
}

/** Bytes already in memory as a source (tests, fuzzing, small embedded images). */
export function bufferSource(buf: Buffer, name: string): ByteSource {
  const make = (base: number, size: number, label: string): ByteSource => ({
    name: label,
    size,
    async read(pos, length, what) {
      if (!Number.isSafeInteger(pos) || !Number.isSafeInteger(length) || pos < 0 || length < 0 || length > MAX_READ || pos + length > size) {
        throw corrupt(label, what, `${length} bytes at offset ${pos} lie outside the image (${size} bytes)`);
      }
      return buf.subarray(base + pos, base + pos + length);
    },
    slice(offset, sliceSize, sliceName) {
      if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(sliceSize) || offset < 0 || sliceSize < 0 || offset + sliceSize > size) {
        throw corrupt(label, sliceName, `range ${offset}+${sliceSize} lies outside the image (${size} bytes)`);
      }
      return make(base + offset, sliceSize, sliceName);
    },
  });
  return make(0, buf.length, name);
}

/**
 * Ranges of a source read as one (a file stored in several extents: ISO 9660 level 3, as the in-place writer makes of
 * a squashfs grown behind its data). Reads that cross from one range into the next are joined.
 */
export function extentsSource(parent: ByteSource, extents: readonly { offset: number; length: number }[], name: string): ByteSource {
  const parts = extents.filter((e) => e.length > 0);
  const size = parts.reduce((n, e) => n + e.length, 0);
  for (const e of parts) parent.slice(e.offset, e.length, name); // each range lies inside the parent (throws otherwise)
  return {
    name,
    size,
    async read(pos, length, what) {
      if (!Number.isSafeInteger(pos) || !Number.isSafeInteger(length) || pos < 0 || length < 0 || length > MAX_READ || pos + length > size) {
        throw corrupt(name, what, `${length} bytes at offset ${pos} lie outside the file (${size} bytes)`);
      }
      const out: Buffer[] = [];
      let at = 0;
      for (const e of parts) {
        if (length === 0) break;
        if (pos < at + e.length) {
          const from = pos - at;
          const n = Math.min(length, e.length - from);
          out.push(await parent.read(e.offset + from, n, what));
          pos += n;
          length -= n;
        }
        at += e.length;
      }
      return out.length === 1 ? out[0]! : Buffer.concat(out);
    },
    slice(offset, sliceSize, sliceName) {
      if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(sliceSize) || offset < 0 || sliceSize < 0 || offset + sliceSize > size) {
        throw corrupt(name, sliceName, `range ${offset}+${sliceSize} lies outside the file (${size} bytes)`);
      }
      const sub: { offset: number; length: number }[] = [];
      let at = 0;
      for (const e of parts) {
        const start = Math.max(offset, at);
        const end = Math.min(offset + sliceSize, at + e.length);
        if (end > start) sub.push({ offset: e.offset + (start - at), length: end - start });
        at += e.length;
      }
      return extentsSource(parent, sub, sliceName);
    },
  };
}
