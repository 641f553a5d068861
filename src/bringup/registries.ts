/** /etc/rancher/k3s/registries.yaml: `mirrors.<registry>.endpoint` (k3s docs, installation/private-registry.md). */
import { stringify } from 'yaml';
import type { BringupMirror } from '../profile/schema-bringup.js';

export function registriesYaml(mirrors: readonly BringupMirror[]): string {
  const out: Record<string, { endpoint: string[] }> = {};
  for (const m of mirrors) out[m.registry] = { endpoint: [...m.endpoints] };
  return stringify({ mirrors: out });
}
