#!/usr/bin/env bash
# bench/raw-add-layer.sh — the baseline for the 22.04-like row of `npm run bench`: what livefs-editor does to add
# one file to the rootfs of a layered casper ISO (livefs_edit/context.py, repack_iso), as plain commands: pack a new
# layer holding the file, read the base's boot setup, write the new ISO with that layer added. livefs-editor loop-mounts
# the ISO and runs `xorriso -as mkisofs <boot report> -o OUT <mounted tree + overlay>`; this kernel has no iso9660, so
# xorriso's modify mode reads the base instead (-indev BASE -outdev OUT, the boot setup replayed), as much work: every
# file of the base read and written once. Like livefs-editor, md5sum.txt is left as it is. Not part of the product.
# env: BASE OUT WORK COMP FILE
set -euo pipefail
: "${BASE:?}" "${OUT:?}" "${WORK:?}" "${COMP:=xz}" "${FILE:?}"
rm -rf "$WORK"; mkdir -p "$WORK/layer/etc/novasphere"
cp "$FILE" "$WORK/layer/etc/novasphere/"
mksquashfs "$WORK/layer" "$WORK/new.squashfs" -noappend -comp "$COMP" -no-progress >/dev/null
xorriso -indev "$BASE" -report_el_torito as_mkisofs >/dev/null 2>&1
rm -f "$OUT"
xorriso -indev "$BASE" -outdev "$OUT" -boot_image any replay \
  -map "$WORK/new.squashfs" /casper/ubuntu-server-minimal.ubuntu-server.bench.squashfs -commit >/dev/null 2>&1
rm -rf "$WORK"
