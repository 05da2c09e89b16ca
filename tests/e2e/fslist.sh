#!/bin/bash
# Interim file list (replaced by the full one): path, type, mode, owner,
# size and sha256 of regular files below the roots, on one file system each.
set -euo pipefail
for r in "$@"; do
    find "$r" -xdev \( -path /proc -o -path /sys -o -path /dev -o -path /run -o -path /tmp -o -path /var/log -o -path /var/lib/rear-build -o -path /var/tmp -o -path /mnt -o -path /boot/grub -o -path /var/cache -o -path /var/lib/systemd \) -prune -o -printf '%p\t%y\t%m\t%U:%G\t%s\n'
done | LC_ALL=C sort
