/**
 * novasphere-bringup.service. It starts on every boot and the script decides (its state file records each step for
 * the installed version), so the console always shows the NOVASPHERE-* markers and a second boot says "nothing to do".
 * Not in the live installer session: casper (scripts/casper: `mountpoint=/cdrom`) mounts the boot medium on /cdrom,
 * which an installed system never has; Ubuntu's live-server GRUB entry has no `boot=casper` (`linux /casper/vmlinuz
 * ---`), so that condition only covers live systems that do pass it.
 */
import { BRINGUP_SCRIPT } from './paths.js';

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
