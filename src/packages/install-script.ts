/** /opt/novasphere/install.sh: rendered from a Handlebars template in the profile's directory (shell-template.ts). */
import { readShellTemplate, renderShellTemplate } from './shell-template.js';

export interface InstallScriptVars {
  product: string;
  name: string;
  payloadDir: string;
  repoDir: string;
  sourcesEntry: string;
  keyring: string;
  /** Package names install.sh installs from the embedded repository. */
  system: string[];
  images: { reference: string; digest: string; file: string; format: string }[];
  k3sAirgap: boolean;
  k3sImagesDir: string;
}

export function readInstallTemplate(file: string): string {
  return readShellTemplate('packages.installScript', 'install.sh', file);
}

export function renderInstallScript(template: string, vars: InstallScriptVars): string {
  return renderShellTemplate('packages.installScript', template, vars);
}
