/** The product's fixed names: where it lives on the installed system and on the medium, and the release artifacts. */

/** The product's directory in the installed system (VERSION, build-info.json, the package payload). */
export const PRODUCT_DIR = '/opt/novasphere';
/** The built version, one line, in the installed system (and the live rootfs). */
export const VERSION_FILE = `${PRODUCT_DIR}/VERSION`;
/** The offline package payload in the rootfs. */
export const PAYLOAD_DIR = `${PRODUCT_DIR}/packages`;
/** Where `packages.onIso` puts a copy of the payload in the ISO tree (relative to its root). */
export const ISO_PAYLOAD_DIR = 'novasphere/packages';

/** Release directory artifacts beside the ISO. */
export const SUMS_NAME = 'SHA256SUMS';
export const SIGNATURE_NAME = 'SHA256SUMS.asc';
export const MANIFEST_NAME = 'build-manifest.json';
export const NOTES_NAME = 'RELEASE-NOTES.md';
export const REPORT_NAME = 'report.html';
/** Every artifact a build publishes besides the ISO (removed again when a reproducibility check fails). */
export const RELEASE_ARTIFACTS = [SUMS_NAME, SIGNATURE_NAME, MANIFEST_NAME, NOTES_NAME, REPORT_NAME] as const;
