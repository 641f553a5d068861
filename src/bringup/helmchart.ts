/**
 * A k3s HelmChart manifest with the chart embedded, so helm-controller installs it with no repository to reach.
 * Fields as helm-controller defines them (k3s-io/helm-controller pkg/apis/helm.cattle.io/v1/types.go, HelmChartSpec):
 * `chartContent` is the base64 of the chart .tgz and overrides `chart`/`version`; `valuesContent` is inline values
 * YAML; `targetNamespace` + `createNamespace` are helm's --namespace / --create-namespace.
 */
import { stringify } from 'yaml';

const HELMCHART_API_VERSION = 'helm.cattle.io/v1';
/** HelmChart objects live in kube-system, where k3s's own (traefik) do; the release goes to targetNamespace. */
const HELMCHART_NAMESPACE = 'kube-system';

export interface HelmChartInput {
  name: string;
  version: string;
  targetNamespace: string;
  values: Record<string, unknown>;
  /** The chart .tgz bytes. */
  chart: Buffer;
}

export function helmChartManifest(input: HelmChartInput): string {
  const spec: Record<string, unknown> = {
    chart: input.name,
    version: input.version,
    targetNamespace: input.targetNamespace,
    createNamespace: true,
    chartContent: input.chart.toString('base64'),
  };
  if (Object.keys(input.values).length > 0) spec['valuesContent'] = stringify(input.values);
  const doc = {
    apiVersion: HELMCHART_API_VERSION,
    kind: 'HelmChart',
    metadata: { name: input.name, namespace: HELMCHART_NAMESPACE },
    spec,
  };
  // lineWidth 0: the base64 stays one plain scalar (no folding), so any YAML reader gets it back byte for byte.
  return stringify(doc, { lineWidth: 0 });
}
