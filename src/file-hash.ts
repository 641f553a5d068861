/** Streaming file digests (ISOs are gigabytes: never read whole into memory). */
import { createHash } from 'node:crypto';
import { createReadStream, statSync } from 'node:fs';

export async function hashFile(path: string, algorithm: 'sha256' | 'md5', onProgress?: (percent: number) => void): Promise<string> {
  const total = onProgress ? statSync(path).size || 1 : 1;
  const hash = createHash(algorithm);
  let done = 0;
  for await (const chunk of createReadStream(path, { highWaterMark: 4 << 20 })) {
    hash.update(chunk as Buffer);
    if (onProgress) {
      done += (chunk as Buffer).length;
      onProgress((done / total) * 100);
    }
  }
  return hash.digest('hex');
}

export function sha256File(path: string, onProgress?: (percent: number) => void): Promise<string> {
  return hashFile(path, 'sha256', onProgress);
}
