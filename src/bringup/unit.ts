/**
 * novasphere-bringup.service. It starts on every boot and the script decides (its state file records each step for
 * the installed version), so the console always shows the NOVASPHERE-* markers and a second boot says "nothing to do".
 * Not in the live installer session: casper (scripts/casper: `mountpoint=/cdrom`) mounts the boot medium on /cdrom,
 * which an installed system never has; Ubuntu's live-server GRUB entry has no `boot=casper` (`linux /casper/vmlinuz
 * ---`), so that condition only covers live systems that do pass it.
 */
import { BRINGUP_SCRIPT, BRINGUP_UNIT_NAME, SERIAL_MARKER_SCRIPT } from './paths.js';
import { VERSION_FILE } from '../product.js';

export function bringupUnit(product: string): string {
  return `[Unit]
Description=${product} first-boot bring-up (offline payload)
Documentation=file:${BRINGUP_SCRIPT}
After=local-fs.target containerd.service docker.service
ConditionPathExists=${BRINGUP_SCRIPT}
ConditionKernelCommandLine=!boot=casper
ConditionPathIsMountPoint=!/cdrom

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=${BRINGUP_SCRIPT}
# multi-user.target is ordered after the units it wants (systemd.target(5)), so a hung step must not hold the boot
# forever; an hour leaves room for multi-GB image imports on slow disks. The next boot resumes from the state file.
TimeoutStartSec=1h
StandardOutput=journal+console
StandardError=journal+console

[Install]
WantedBy=multi-user.target
`;
}

/**
 * novasphere-serial-marker.service (issue 12 item 5): the release QA boots the installed system with no network and
 * waits for this line on the serial console. Requires= + After= the bring-up: it runs only when the bring-up's
 * oneshot succeeded (systemd.unit(5): a failed required unit fails this one), so the line means "payload installed".
 * It writes to /dev/ttyS0 itself: /dev/console is the last console= of the kernel command line, often tty0. The
 * bring-up's conditions again: a unit skipped by a condition does not fail its dependents (systemd.unit(5),
 * Condition*), so in a live session that has these units the marker would otherwise claim an installed payload.
 */
export function serialMarkerUnit(product: string): string {
  return `[Unit]
Description=${product} version on the serial console (release QA marker)
Requires=${BRINGUP_UNIT_NAME}
After=${BRINGUP_UNIT_NAME}
ConditionPathExists=/dev/ttyS0
ConditionKernelCommandLine=!boot=casper
ConditionPathIsMountPoint=!/cdrom

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=${SERIAL_MARKER_SCRIPT}
StandardOutput=journal

[Install]
WantedBy=multi-user.target
`;
}

export function serialMarkerScript(): string {
  return `#!/bin/sh
# Run by novasphere-serial-marker.service once the bring-up succeeded: the QA marker on the first serial port.
line="NOVASPHERE-VERSION: $(cat ${VERSION_FILE} 2>/dev/null || echo unknown)"
echo "$line"
printf '%s\r\n' "$line" >/dev/ttyS0
`;
}
