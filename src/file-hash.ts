/** Streaming file digests (ISOs are gigabytes: never read whole into memory). */
import { createHash } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';

const CHUNK = 8 << 20;

export async function hashFile(path: string, algorithm: 'sha256' | 'md5', onProgress?: (percent: number) => void): Promise<string> {
  const hash = createHash(algorithm);
  const f = await open(path, 'r');
  try {
    const total = onProgress ? (await f.stat()).size || 1 : 1;
    // Two buffers: the next chunk is read on a pool thread while this one is hashed, so the hash runs at its own speed
    // (SHA-NI: 1.5 GB/s here; a stream's reads and openssl's small ones both leave the core idle between chunks).
    const bufs = [Buffer.allocUnsafe(CHUNK), Buffer.allocUnsafe(CHUNK)];
    let pos = 0;
    let i = 0;
    let next = f.read(bufs[0]!, 0, CHUNK, 0);
    for (;;) {
      const { bytesRead } = await next;
      if (bytesRead === 0) break;
      const chunk = bufs[i]!.subarray(0, bytesRead);
      pos += bytesRead;
      i ^= 1;
      next = f.read(bufs[i]!, 0, CHUNK, pos);
      next.catch(() => undefined); // awaited on the next turn; a failure there is the one reported
      hash.update(chunk);
      onProgress?.((pos / total) * 100);
    }
  } finally {
    await f.close();
  }
  return hash.digest('hex');
}

export function sha256File(path: string, onProgress?: (percent: number) => void): Promise<string> {
  return hashFile(path, 'sha256', onProgress);
}

/**
 * The digest of a file another process is appending to, read as it grows and finished once `writer` settles: the
 * hash of a freshly written file costs no pass of its own after the write. Only for a writer that never seeks back
 * (cat appending what xorriso writes to a pipe, see tools/xorriso.ts). Rejects when the writer does.
 */
export async function hashGrowingFile(path: string, algorithm: 'sha256' | 'md5', writer: Promise<unknown>): Promise<string> {
  let finished = false;
  const done = writer.then(
    () => {
      finished = true;
    },
    () => {
      finished = true;
    },
  );
  try {
    const digest = await followAndHash(path, algorithm, () => finished, done);
    await writer; // a file the writer failed to finish has no digest worth giving
    return digest;
  } catch (err) {
    await writer; // the writer's own failure is the one to report
    throw err;
  }
}

async function followAndHash(path: string, algorithm: 'sha256' | 'md5', finished: () => boolean, done: Promise<void>): Promise<string> {
  const hash = createHash(algorithm);
  const buf = Buffer.allocUnsafe(4 << 20);
  let pos = 0;
  const fd = await waitForFile(path, finished);
  try {
    for (;;) {
      // Read the end state only after the writer finished, so no byte written after the last read is missed.
      const last = finished();
      const { bytesRead } = await fd.read(buf, 0, buf.length, pos);
      if (bytesRead > 0) {
        hash.update(buf.subarray(0, bytesRead));
        pos += bytesRead;
        continue;
      }
      if (last) break;
      await Promise.race([done, new Promise((r) => setTimeout(r, 10))]);
    }
  } finally {
    await fd.close();
  }
  return hash.digest('hex');
}

async function waitForFile(path: string, finished: () => boolean): Promise<FileHandle> {
  for (;;) {
    try {
      return await open(path, 'r');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT' || finished()) throw err;
      await new Promise((r) => setTimeout(r, 10));
    }
  }
}
