#!/bin/bash
# Interim test data (replaced by the full set): a few odd files under /srv.
set -euo pipefail
root=/srv/e2e-data
rm -rf "$root" && mkdir -p "$root"
printf 'spaces\n' > "$root/with space"
printf 'suid\n' > "$root/suid" && chmod 4755 "$root/suid"
truncate -s 1G "$root/sparse" && printf data | dd of="$root/sparse" bs=1 seek=500000000 conv=notrunc status=none
printf 'x\n' > "$root/acl" && setfacl -m u:1234:rw "$root/acl" && setfattr -n user.e2e -v hello "$root/acl"
