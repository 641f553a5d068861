/** Where the first-boot bring-up lives on the installed system, and the k3s paths it (and the payload) use. */
import { PRODUCT_DIR } from '../product.js';

export const BRINGUP_SCRIPT = `${PRODUCT_DIR}/bringup.sh`;
export const BRINGUP_UNIT_NAME = 'novasphere-bringup.service';
/** A vendor unit (not an admin one in /etc), enabled by the wants symlink below. */
export const BRINGUP_UNIT = `/usr/lib/systemd/system/${BRINGUP_UNIT_NAME}`;
export const BRINGUP_WANTS = `/etc/systemd/system/multi-user.target.wants/${BRINGUP_UNIT_NAME}`;
const SERIAL_MARKER_UNIT_NAME = 'novasphere-serial-marker.service';
export const SERIAL_MARKER_SCRIPT = `${PRODUCT_DIR}/serial-marker.sh`;
export const SERIAL_MARKER_UNIT = `/usr/lib/systemd/system/${SERIAL_MARKER_UNIT_NAME}`;
export const SERIAL_MARKER_WANTS = `/etc/systemd/system/multi-user.target.wants/${SERIAL_MARKER_UNIT_NAME}`;
export const BRINGUP_STATE = '/var/lib/novasphere/bringup.state';
export const BRINGUP_LOG_DIR = '/var/log/novasphere';
/** The k3s binary and the upstream install script, copied from the profile (outside the payload, whose manifest.json lists only its own files). */
export const K3S_FILES_DIR = `${PRODUCT_DIR}/k3s`;
/** k3s docs, installation/airgap.md: image archives in the agent's images directory are imported when k3s starts. */
export const K3S_IMAGES_DIR = '/var/lib/rancher/k3s/agent/images';
/** k3s applies every manifest in this directory when the server starts (its deploy controller). */
const K3S_MANIFESTS_DIR = '/var/lib/rancher/k3s/server/manifests';
/** k3s docs, installation/private-registry.md. */
export const K3S_REGISTRIES = '/etc/rancher/k3s/registries.yaml';

export function chartManifestPath(chart: string): string {
  return `${K3S_MANIFESTS_DIR}/chart-${chart}.yaml`;
}
