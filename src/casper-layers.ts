/**
 * How casper and the installer read a layered live-server ISO, shared by the build (on the extracted tree) and the
 * in-process readers (on the ISO image): which install source is the default, and which layers a layer sits on.
 */
export interface InstallSource {
  id?: string;
  path?: string;
  default?: boolean;
  type?: string;
}

/** The source the installer copies unless told otherwise: the one marked `default: true`, else the last one. */
export function defaultInstallSource(parsed: unknown): InstallSource | undefined {
  if (!Array.isArray(parsed) || parsed.length === 0) return undefined;
  const sources = parsed as InstallSource[];
  return sources.find((s) => s.default === true) ?? sources[sources.length - 1];
}

/** casper stacks by name: a.b.c.squashfs sits on a.b.squashfs, which sits on a.squashfs. The lower layers present, bottom first. */
export function lowerLayersOf(layer: string, present: (name: string) => boolean): string[] {
  const parts = layer.replace(/\.squashfs$/, '').split('.');
  const lowers: string[] = [];
  for (let i = 1; i < parts.length; i++) {
    const name = `${parts.slice(0, i).join('.')}.squashfs`;
    if (present(name)) lowers.push(name);
  }
  return lowers;
}
