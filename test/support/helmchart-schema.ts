/**
 * A HelmChart object as helm-controller's CRD defines it (k3s-io/helm-controller
 * pkg/crds/yaml/generated/helm.cattle.io_helmcharts.yaml, read at commit 0f10d4c91a7fb8cef21c04898ef6d000ae35e88f):
 * group helm.cattle.io, version v1, kind HelmChart, namespaced; `spec` properties with their types. Only the
 * properties of scalar type are listed one by one (the bring-up writes no others); any other key under `spec` must at
 * least be one the CRD names, so a misspelt field fails. Written down by hand from the CRD (not copied), for the tests.
 */
import * as z from 'zod';

/** Every property of the CRD's spec (openAPIV3Schema.properties.spec.properties), by name. */
const SPEC_PROPERTIES = [
  'authPassCredentials', 'authSecret', 'backOffLimit', 'bootstrap', 'chart', 'chartContent', 'createNamespace',
  'dockerRegistrySecret', 'failurePolicy', 'helmVersion', 'insecureSkipTLSVerify', 'jobImage', 'plainHTTP',
  'podSecurityContext', 'repo', 'repoCA', 'repoCAConfigMap', 'securityContext', 'set',
  'targetNamespace', 'timeout', 'valuesContent', 'valuesSecrets', 'version',
] as const;

export const HelmChartSchema = z.strictObject({
  apiVersion: z.literal('helm.cattle.io/v1'),
  kind: z.literal('HelmChart'),
  metadata: z.looseObject({ name: z.string().min(1), namespace: z.string().min(1) }),
  spec: z
    .looseObject({
      chart: z.string().optional(),
      chartContent: z.string().regex(/^[A-Za-z0-9+/]+={0,2}$/, 'base64').optional(),
      version: z.string().optional(),
      targetNamespace: z.string().optional(),
      createNamespace: z.boolean().optional(),
      valuesContent: z.string().optional(),
      bootstrap: z.boolean().optional(),
      failurePolicy: z.enum(['abort', 'reinstall']).optional(),
    })
    .refine((spec) => Object.keys(spec).every((k) => (SPEC_PROPERTIES as readonly string[]).includes(k)), 'a spec key the CRD does not define'),
});
