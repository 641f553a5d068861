/**
 * squashfs metadata blocks: a 2-byte header (bit 15 = stored uncompressed, low 15 bits = size on disk) and at most 8 KiB
 * of data. Inode, directory, fragment and id tables are chains of them; a cursor reads across block boundaries.
 */
import { DecodeError, decompress, type Compressor } from './codecs.js';
import { corrupt, type ByteSource } from './source.js';
import { META_HEADER_SIZE, META_SIZE, META_SIZE_MASK, META_UNCOMPRESSED } from './squashfs-format.js';

/** Decoded blocks kept (8 KiB each): a whole-tree listing of a large rootfs reads each block about once. */
const CACHE_BLOCKS = 4096;

interface MetaBlock {
  data: Buffer;
  /** Position of the next block in the chain. */
  next: number;
}

export class MetadataReader {
  private readonly cache = new Map<number, MetaBlock>();
  /** The tables region read in one go (one read instead of one per block: listing is I/O-latency bound otherwise). */
  private window: { start: number; bytes: Buffer } | undefined;

  readonly name: string;

  constructor(
    private readonly source: ByteSource,
    private readonly compressor: Compressor,
    /** Reads never go past this (the squashfs's bytes_used). */
    private readonly end: number,
  ) {
    this.name = source.name;
  }

  /** The metadata block at absolute position `pos`. */
  async block(pos: number, what: string): Promise<MetaBlock> {
    const hit = this.cache.get(pos);
    if (hit) return hit;
    if (pos + META_HEADER_SIZE > this.end) throw corrupt(this.source.name, what, `metadata block at ${pos} lies past the end of the filesystem (${this.end})`);
    const want = Math.min(META_HEADER_SIZE + META_SIZE, this.end - pos);
    const w = this.window;
    const head = w && pos >= w.start && pos + want <= w.start + w.bytes.length ? w.bytes.subarray(pos - w.start, pos - w.start + want) : await this.source.read(pos, want, what);
    const word = head.readUInt16LE(0);
    const size = word & META_SIZE_MASK;
    if (size === 0 || size > META_SIZE || META_HEADER_SIZE + size > head.length) {
      throw corrupt(this.source.name, what, `metadata block at ${pos} has an impossible size ${size}`);
    }
    const raw = head.subarray(META_HEADER_SIZE, META_HEADER_SIZE + size);
    let data: Buffer;
    if (word & META_UNCOMPRESSED) {
      data = Buffer.from(raw);
    } else {
      try {
        data = await decompress(this.compressor, raw, META_SIZE);
      } catch (err) {
        if (err instanceof DecodeError) throw corrupt(this.source.name, what, `metadata block at ${pos} does not decompress (${err.message})`);
        throw err;
      }
    }
    const block = { data, next: pos + META_HEADER_SIZE + size };
    if (this.cache.size >= CACHE_BLOCKS) this.cache.delete(this.cache.keys().next().value as number);
    this.cache.set(pos, block);
    return block;
  }

  /** Reads [start, end) into memory when it is at most `max` bytes (the inode, directory, fragment and id tables). */
  async preload(start: number, max: number): Promise<void> {
    const length = this.end - start;
    if (length > 0 && length <= max) this.window = { start, bytes: await this.source.read(start, length, 'squashfs tables') };
  }

  cursor(tableStart: number, block: number, offset: number, what: string): MetaCursor {
    return new MetaCursor(this, tableStart + block, offset, what);
  }
}

/** Sequential reader over a metadata chain, starting at (block position, offset in its decoded data). */
export class MetaCursor {
  constructor(
    private readonly reader: MetadataReader,
    private pos: number,
    private offset: number,
    readonly what: string,
  ) {}

  async take(length: number): Promise<Buffer> {
    const parts: Buffer[] = [];
    let need = length;
    while (need > 0) {
      const block = await this.reader.block(this.pos, this.what);
      if (this.offset > block.data.length) {
        throw corrupt(this.reader.name, this.what, `offset ${this.offset} lies past the ${block.data.length} bytes of metadata block ${this.pos}`);
      }
      const n = Math.min(need, block.data.length - this.offset);
      parts.push(block.data.subarray(this.offset, this.offset + n));
      need -= n;
      this.offset += n;
      if (this.offset === block.data.length) {
        this.pos = block.next;
        this.offset = 0;
      }
    }
    return parts.length === 1 ? parts[0]! : Buffer.concat(parts, length);
  }
}


/**
 * A whole metadata table (inode or directory table) decoded once, as unsquashfs does: references then resolve
 * synchronously, which makes listing a large tree an in-memory walk. Decoded size is capped by the caller.
 */
export class DecodedTable {
  private constructor(
    private readonly image: string,
    /** The decoded table (file block lists are read from it lazily). */
    readonly bytes: Buffer,
    /** Block position relative to the table start → offset of its data in `bytes`. */
    private readonly offsets: Map<number, number>,
  ) {}

  static async load(reader: MetadataReader, start: number, end: number, maxDecoded: number, what: string): Promise<DecodedTable> {
    const parts: Buffer[] = [];
    const offsets = new Map<number, number>();
    let total = 0;
    for (let pos = start; pos < end; ) {
      const block = await reader.block(pos, what);
      offsets.set(pos - start, total);
      parts.push(block.data);
      total += block.data.length;
      if (total > maxDecoded) throw corrupt(reader.name, what, `it decodes to more than ${maxDecoded} bytes`);
      pos = block.next;
    }
    return new DecodedTable(reader.name, Buffer.concat(parts, total), offsets);
  }

  /** `what` may be a function: the label is only built when an error needs it (listing opens a cursor per entry). */
  cursor(block: number, offset: number, what: string | (() => string)): SyncCursor {
    const base = this.offsets.get(block);
    if (base === undefined) throw corrupt(this.image, label(what), `no metadata block starts at ${block} of the table`);
    return new SyncCursor(this.image, this.bytes, base + offset, what);
  }
}

function label(what: string | (() => string)): string {
  return typeof what === 'string' ? what : what();
}

/** Sequential reads from a decoded table; running off its end is corruption. */
export class SyncCursor {
  constructor(
    private readonly image: string,
    /** The whole decoded table: callers read at the positions span() returns. */
    readonly bytes: Buffer,
    private pos: number,
    private readonly what: string | (() => string),
  ) {}

  /** Claims the next `length` bytes; returns their position in `bytes`. */
  span(length: number): number {
    const at = this.pos;
    if (at + length > this.bytes.length) throw corrupt(this.image, label(this.what), `it runs past the end of its table (${this.bytes.length} bytes decoded)`);
    this.pos = at + length;
    return at;
  }
}
