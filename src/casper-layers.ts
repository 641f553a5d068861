/**
 * How casper and the installer read a layered live-server ISO, shared by the build (on the extracted tree) and the
 * in-process readers (on the ISO image): which install source is the default, and which layers a layer sits on.
 * Sources: subiquity/models/source.py (default choice), curtin/commands/extract.py `_get_image_stack` (chain),
 * casper `scripts/casper` (the live stack, same naming rule); see ../shared/ubuntu-facts.md.
 */
export interface InstallSource {
  id?: string;
  path?: string;
  default?: boolean;
  type?: string;
  size?: number;
}

/**
 * The source the installer copies unless told otherwise: subiquity's SourceModel takes the entry marked
 * `default: true`, else the first one.
 */
export function defaultInstallSource(parsed: unknown): InstallSource | undefined {
  if (!Array.isArray(parsed) || parsed.length === 0) return undefined;
  const sources = parsed as InstallSource[];
  return sources.find((s) => s.default === true) ?? sources[0];
}

/** curtin's expansion of an fsimage-layered path: a.b.c.squashfs -> a.squashfs, a.b.squashfs, a.b.c.squashfs (bottom first). */
export function layerChain(layer: string): string[] {
  const parts = layer.replace(/\.squashfs$/, '').split('.');
  return parts.map((_, i) => `${parts.slice(0, i + 1).join('.')}.squashfs`);
}

/** casper stacks by name: a.b.c.squashfs sits on a.b.squashfs, which sits on a.squashfs. The lower layers present, bottom first. */
export function lowerLayersOf(layer: string, present: (name: string) => boolean): string[] {
  return layerChain(layer).slice(0, -1).filter(present);
}

/** The layers of LAYER's chain that are missing: casper ("File system layers are missing") and curtin refuse such a chain. */
export function missingChainLayers(layer: string, present: (name: string) => boolean): string[] {
  return layerChain(layer).filter((name) => !present(name));
}

/** What the installer puts on the disk for a source: the chain for fsimage-layered, the one image for fsimage. */
export function installedLayers(source: InstallSource): string[] {
  if (!source.path) return [];
  return source.type === 'fsimage-layered' ? layerChain(source.path) : [source.path];
}
