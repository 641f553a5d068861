/** /opt/novasphere/bringup.sh: rendered from the profile's `bringup.script` Handlebars template (shell-template.ts). */
import { readShellTemplate, renderShellTemplate } from '../packages/shell-template.js';

export interface BringupImage {
  /** File name in the payload's images/ directory. */
  file: string;
  /** The reference as containerd and docker list it after an import (docker.io/ and :latest explicit). */
  reference: string;
  /** Its step name in the state file. */
  step: string;
}

export interface BringupScriptVars {
  product: string;
  payloadDir: string;
  versionFile: string;
  stateFile: string;
  logDir: string;
  sourcesPath: string;
  /** Package names to install from the embedded repository. */
  system: string[];
  images: BringupImage[];
  k3s: boolean;
  /** Kept for templates written against it: /opt/novasphere/k3s, where profile-local k3s files are copied. */
  k3sFilesDir: string;
  /** The k3s binary and the upstream install script on the installed system (copied there, or in the payload). */
  k3sBinary: string;
  k3sInstallScript: string;
  k3sExec: string;
  k3sImagesDir: string;
  /** The HelmChart manifests written at build time (paths on the installed system), checked by the script. */
  chartManifests: string[];
  runtime: 'auto' | 'containerd' | 'docker';
  /** Every step of this version, space-separated, in order (the state file must record each for "nothing to do"). */
  steps: string;
}

export function readBringupTemplate(file: string): string {
  return readShellTemplate('bringup.script', 'bringup.sh', file);
}

export function renderBringupScript(template: string, vars: BringupScriptVars): string {
  return renderShellTemplate('bringup.script', template, vars);
}
