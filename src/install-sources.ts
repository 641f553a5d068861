/**
 * Rewriting casper/install-sources.yaml (the build's repack stage). Apart from casper-layers.ts, which the in-process
 * readers load at start-up: this needs the yaml library, which they import only for a layered ISO.
 */
import { isMap, isSeq, parseDocument } from 'yaml';

/**
 * install-sources.yaml with one entry's path and/or size replaced, every other field and entry kept (a yaml
 * Document edit, not a re-serialisation of parsed data). Throws when no entry has that id.
 */
export function rewriteInstallSources(text: string, id: string, change: { path?: string; size?: number }): string {
  const doc = parseDocument(text);
  if (!isSeq(doc.contents)) throw new Error('install-sources.yaml is not a list');
  let found = false;
  for (const item of doc.contents.items) {
    if (!isMap(item)) continue;
    // parseDocument types values as parsed nodes; get/set take and give plain scalars just as well
    const entry = item as unknown as { get(k: string): unknown; set(k: string, v: unknown): void };
    if (entry.get('id') !== id) continue;
    found = true;
    if (change.size !== undefined) entry.set('size', change.size);
    if (change.path !== undefined) entry.set('path', change.path);
  }
  if (!found) throw new Error(`install-sources.yaml has no source with id ${id}`);
  return doc.toString();
}
