/**
 * Profile section `bringup`: what the installed system does on its first boot (src/bringup/**): a systemd unit runs
 * /opt/novasphere/bringup.sh, which installs the payload offline. With `k3s` the profile is a k3s profile: k3s is
 * installed from the files named here and each chart of `packages.charts` is deployed as a k3s HelmChart manifest;
 * without it the image archives are imported into containerd or docker. Part of the profile schema (schema.ts).
 */
import * as z from 'zod';
import { profilePath as localPath } from './schema-marks.js';

/** A Kubernetes namespace name (RFC 1123 label). */
const NAMESPACE_PATTERN = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;
/** A registry host[:port] as registries.yaml keys it, or `*` (k3s: the default for every registry). */
const REGISTRY_PATTERN = /^(\*|[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:\d{1,5})?)$/;

export const BringupMirrorSchema = z
  .strictObject({
    registry: z
      .string()
      .regex(REGISTRY_PATTERN, 'expected a registry host such as "docker.io" or "registry.local:5000", or "*"')
      .describe('Registry whose pulls are redirected, e.g. `docker.io`; `*` for every registry.'),
    endpoints: z
      .array(z.url({ protocol: /^https?$/, error: 'expected an http:// or https:// URL' }))
      .min(1)
      .describe('Mirror URLs tried in order (k3s registries.yaml `endpoint`).'),
  })
  .describe('One registry mirror, written to /etc/rancher/k3s/registries.yaml.');
export type BringupMirror = z.output<typeof BringupMirrorSchema>;

/** A `packages.files[].dest`: the same rule as there (relative, no `.`/`..`/empty segments). */
const payloadFile = z
  .string()
  .refine((d) => /^[^/\0\\]/.test(d) && d.split('/').every((seg) => seg !== '' && seg !== '.' && seg !== '..'), "expected a relative path without '.', '..' or empty segments");

export const BringupK3sSchema = z
  .strictObject({
    binary: localPath()
      .optional()
      .describe('The k3s binary (release asset `k3s`), relative to the profile; installed as /usr/local/bin/k3s. Or `binaryFile`.'),
    binaryFile: payloadFile
      .optional()
      .describe(
        'The k3s binary as a payload file: the `dest` of a `packages.files` entry (e.g. `k3s/k3s`), used where it lies in ' +
          '/opt/novasphere/packages/files/ (not copied again). Or `binary`.',
      ),
    installScript: localPath()
      .optional()
      .describe(
        'The upstream install script (https://get.k3s.io saved as a file), relative to the profile; run offline with ' +
          '`INSTALL_K3S_SKIP_DOWNLOAD=true`. Or `installScriptFile`.',
      ),
    installScriptFile: payloadFile
      .optional()
      .describe('The upstream install script as a payload file: the `dest` of a `packages.files` entry (e.g. `k3s/install.sh`). Or `installScript`.'),
    exec: z
      .string()
      .optional()
      .meta({ description: 'Arguments for k3s (`INSTALL_K3S_EXEC`), e.g. `server --disable traefik`.', defaultText: "the install script's default (`server`)" }),
    mirrors: z.array(BringupMirrorSchema).default(() => []).describe('Registry mirrors; none: no registries.yaml is written.'),
  })
  .superRefine((k, ctx) => {
    for (const [local, file] of [['binary', 'binaryFile'], ['installScript', 'installScriptFile']] as const) {
      if ((k[local] === undefined) === (k[file] === undefined)) {
        ctx.addIssue({ code: 'custom', path: [local], message: `expected exactly one of ${local} / ${file}` });
      }
    }
  })
  .describe('Makes this a k3s profile: install k3s from these files and deploy the charts with its helm-controller.');

export const BringupChartSchema = z
  .strictObject({
    name: z.string().min(1).describe('Name of a chart in `packages.charts`.'),
    targetNamespace: z
      .string()
      .regex(NAMESPACE_PATTERN, 'expected a Kubernetes namespace name (lower-case letters, digits, "-")')
      .optional()
      .meta({ description: 'Namespace the release is installed into (created when missing).', defaultText: 'the chart name' }),
    values: z.record(z.string(), z.unknown()).default(() => ({})).describe('Helm values for the release (HelmChart `valuesContent`).'),
  })
  .describe("How one chart is deployed; charts not listed are deployed with the chart's own defaults.");

export const BringupSchema = z
  .strictObject({
    k3s: BringupK3sSchema.optional(),
    charts: z.array(BringupChartSchema).default(() => []).describe('Per-chart release settings (k3s profiles).'),
    runtime: z
      .enum(['auto', 'containerd', 'docker'])
      .default('auto')
      .describe(
        'Without `k3s`: where the images go. `auto`: docker when its daemon answers, else containerd (`ctr`); ' +
          'the script starts the runtime with systemctl when it is installed but not running.',
      ),
    serialMarker: z
      .boolean()
      .default(false)
      .describe(
        'Also install novasphere-serial-marker.service: once the bring-up succeeded it prints `NOVASPHERE-VERSION: <version>` ' +
          "on the first serial port (/dev/ttyS0), the line the release QA waits for on the installed system.",
      ),
    script: localPath()
      .default('templates/bringup.sh.hbs')
      .describe('Handlebars template of /opt/novasphere/bringup.sh (run by novasphere-bringup.service), relative to the profile.'),
  })
  .superRefine((b, ctx) => {
    if (b.charts.length > 0 && b.k3s === undefined) {
      ctx.addIssue({ code: 'custom', path: ['charts'], message: 'expected bringup.k3s: charts are deployed by k3s (HelmChart manifests)' });
    }
  })
  .describe(
    'First-boot bring-up of the installed system (needs a `packages` section): novasphere-bringup.service runs ' +
      '/opt/novasphere/bringup.sh once per version, offline.',
  );
export type BringupOptions = z.output<typeof BringupSchema>;
