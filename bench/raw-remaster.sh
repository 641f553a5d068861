#!/usr/bin/env bash
# bench/raw-remaster.sh — the baseline for `npm run bench`: the same remaster iso-build does for
# profiles/fixture.yaml (repack strategy), as plain tool commands with no orchestration, so the
# benchmark can report iso-build's overhead as a ratio. Not part of the product.
# env: BASE OUT WORK VERSION COMP LEVEL OVERLAY EPOCH
set -euo pipefail
: "${BASE:?}" "${OUT:?}" "${WORK:?}" "${VERSION:=v1.0.0}" "${COMP:=zstd}" "${OVERLAY:?}" "${EPOCH:=1700000000}"
export LC_ALL=C
R=$WORK/rootfs T=$WORK/iso
rm -rf "$WORK"; mkdir -p "$WORK"
umount_all() { for m in dev/pts dev sys proc; do umount "$R/$m" 2>/dev/null || true; done; }
trap umount_all EXIT

openssl dgst -sha256 -r "$BASE" >/dev/null  # the hashing tool iso-build uses (faster than sha256sum)
xorriso -osirrox on -indev "$BASE" -extract / "$T" 2>/dev/null; chmod -R u+w "$T"
mapfile -t REPLAY < <(xorriso -indev "$BASE" -report_el_torito as_mkisofs 2>/dev/null | xargs -n1 printf '%s\n')
unsquashfs -q -processors "$(nproc)" -d "$R" "$T/casper/filesystem.squashfs" >/dev/null
mount -t proc proc "$R/proc"; mount -t sysfs sysfs "$R/sys"; mount --bind /dev "$R/dev"; mount --bind /dev/pts "$R/dev/pts"
chroot "$R" /bin/sh -c 'mkdir -p /etc/novasphere && echo "chroot ran on Debian $(cat /etc/debian_version) as $(id -un)" > /etc/novasphere/chroot-proof'
chroot "$R" /bin/sh -c 'dpkg-query -W dpkg' >/dev/null
umount_all
cp -a "$OVERLAY/." "$R/"; chown -R 0:0 "$R/etc/fixture-boot.d" "$R/etc/novasphere"
mkdir -p "$R/opt/novasphere"; echo "$VERSION" > "$R/opt/novasphere/VERSION"; echo '{}' > "$R/opt/novasphere/build-info.json"
rm -rf "$R"/var/cache/apt/*.bin "$R"/var/log/apt/* "$R"/var/log/dpkg.log "$R"/var/lib/dpkg/*-old "$R"/var/cache/ldconfig/aux-cache
dpkg-query --admindir="$R/var/lib/dpkg" -W --showformat='${Package}\t${Version}\n' | sort > "$T/casper/filesystem.manifest"
find "$R" ! -type d -printf '%s\n' | awk '{s+=$1} END{print s}' > "$T/casper/filesystem.size"
level=(); [ -n "${LEVEL:-}" ] && level=(-Xcompression-level "$LEVEL")
env -u SOURCE_DATE_EPOCH mksquashfs "$R" "$T/casper/filesystem.squashfs.new" -noappend -comp "$COMP" "${level[@]}" \
  -processors "$(nproc)" -mkfs-time "$EPOCH" -all-time "$EPOCH" -no-progress >/dev/null
mv "$T/casper/filesystem.squashfs.new" "$T/casper/filesystem.squashfs"
(cd "$T" && rm -f boot.catalog && find . -type f ! -name md5sum.txt ! -name eltorito.img -print0 | sort -z | xargs -0 md5sum > md5sum.txt)
xorriso -as mkisofs -r -J -joliet-long "${REPLAY[@]}" -o "$OUT.partial" "$T" 2>/dev/null
xorriso -indev "$OUT.partial" -report_el_torito plain 2>/dev/null | grep -q UEFI
V=$WORK/verify; xorriso -osirrox on -indev "$OUT.partial" -extract / "$V" 2>/dev/null
(cd "$V" && md5sum -c --quiet md5sum.txt)
unsquashfs -cat "$V/casper/filesystem.squashfs" opt/novasphere/VERSION >/dev/null
chmod -R u+w "$V"; rm -rf "$V"
mv "$OUT.partial" "$OUT"; (cd "$(dirname "$OUT")" && openssl dgst -sha256 -r "$(basename "$OUT")" | sed "s/ \*/  /" > SHA256SUMS)
rm -rf "$WORK"
