#!/bin/bash
# rear-build e2e: creates the test data whose restore the end-to-end test
# checks (with fslist.sh before the backup and after the recovery).
#
#   testdata.sh [--root DIR]
#
# Writes below DIR (default /, i.e. the running system):
#   /srv/e2e-data/    almost everything, one directory per kind of oddity
#   /home/e2e-user/   a home owned by a uid/gid without a passwd entry
#                     (/home may be its own file system in a scenario)
#   /root/e2e-data/   a private file in root's home
# and removes those three first, so running it again starts from scratch.
# --root exists so the script can be tried on a host inside a temp dir;
# never point it at a host's own / (it writes into /srv, /home and /root).
#
# Needs bash, coreutils, acl (setfacl) and attr (setfattr); runs as root
# (chown, setuid bits, trusted.* and security.* xattrs). Files are written
# with bash builtins, not one process per file, so that a software-emulated
# VM makes the 5000 small files in seconds. Prints
# "E2E-TESTDATA root=DIR entries=N seconds=S" at the end.
set -euo pipefail
export LC_ALL=C
root=/
while [ $# -gt 0 ]; do
    case "$1" in
        --root) root=${2:?--root needs a directory}; shift 2 ;;
        -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
        *) echo "testdata.sh: unknown argument: $1" >&2; exit 2 ;;
    esac
done
[ -d "$root" ] || { echo "testdata.sh: $root is not a directory" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "testdata.sh: must run as root (chown, setuid, xattrs)" >&2; exit 2; }
root=${root%/}
t0=$SECONDS

D=$root/srv/e2e-data
H=$root/home/e2e-user
R=$root/root/e2e-data
rm -rf "$D" "$H" "$R"
mkdir -p "$D" "$H" "$R"

# The uid and gid the issue asks for: numeric ids without passwd/group
# entries, which a restore by name (instead of by number) would lose.
OU=1234
OG=5678

# --- names: spaces, control characters, non-UTF-8 bytes, shell metacharacters
mkdir -p "$D/names/dir with space" "$D/names/"$'dir\nwith newline'
cd "$D/names"
# shellcheck disable=SC2016 # '$(...)' is a name, not to be expanded
for n in "with space" "  leading spaces" "trailing space " $'tab\there' \
    $'new\nline' $'ends with newline\n' $'carriage\rreturn' \
    $'latin1-\xe9t\xe9' $'bytes-\xff\xfe\x80' "utf8-ünïcødé-日本" \
    'back\slash' "quote'single" 'quote"double' '-starts-with-dash' \
    '*?[glob]' '$(not a command)' '#hash' 'percent%s' 'equals=sign' \
    "dir with space/inner file" $'dir\nwith newline/inner'; do
    printf 'name: %s\n' "$n" > "$n"
done
# The longest name ext4 allows (255 bytes).
printf -v long "%0255d" 0
printf 'long\n' > "${long//0/L}"

# --- modes: setuid/setgid executables, unusual permission bits
mkdir -p "$D/modes"
cd "$D/modes"
cp /bin/true setuid-true
cp /bin/true setgid-true
cp /bin/true setuid-setgid-true
chmod 4755 setuid-true
chmod 2755 setgid-true
chmod 6755 setuid-setgid-true
for m in 0000 0400 0444 0600 0640 0711 0777 1644; do
    printf 'mode %s\n' "$m" > "mode-$m"
    chmod "$m" "mode-$m"
done
mkdir sticky-1777 setgid-dir-2775 private-0700 no-access-0000
chmod 1777 sticky-1777
chmod 2775 setgid-dir-2775
chmod 0700 private-0700
printf 'inside a 0000 directory\n' > no-access-0000/file
chmod 0000 no-access-0000

# --- owners: ids without names; chown clears setuid, so the mode comes last
mkdir -p "$D/owners/orphan-dir"
cd "$D/owners"
printf 'owned by %s:%s\n' $OU $OG > orphan-file
printf 'group only\n' > group-only
printf 'inside\n' > orphan-dir/file
ln -s orphan-file orphan-link
chown $OU:$OG orphan-file orphan-dir orphan-dir/file
chown -h $OU:$OG orphan-link
chown 0:$OG group-only
chmod 0640 orphan-file group-only
cp /bin/true setuid-orphan
chown $OU:$OG setuid-orphan
chmod 4750 setuid-orphan

# --- sparse files: data islands at known offsets, holes elsewhere
mkdir -p "$D/sparse"
cd "$D/sparse"
KiB=1024
MiB=$((1024 * KiB))
GiB=$((1024 * MiB))
# island OFFSET TEXT FILE: writes TEXT (repeated up to 4 KiB) at byte OFFSET.
island() {
    local text=$2 block=""
    while [ ${#block} -lt 4096 ]; do block+=$text; done
    printf '%s' "${block:0:4096}" | dd of="$3" bs=4096 seek="$(($1 / 4096))" conv=notrunc status=none
}
truncate -s $GiB 1g-islands
island 0 'start of the 1 GiB file ' 1g-islands
island $MiB 'one MiB ' 1g-islands
island $((300 * MiB)) 'three hundred MiB ' 1g-islands
island $((512 * MiB)) 'half way ' 1g-islands
island $((512 * MiB + 64 * KiB)) 'half way plus 64 KiB ' 1g-islands
island $((GiB - 4 * KiB)) 'last 4 KiB ' 1g-islands
# Only a hole.
truncate -s $((100 * MiB)) hole-only
# Data, then a hole up to the size.
island 0 'head ' hole-at-end
truncate -s $((10 * MiB)) hole-at-end
# A hole, then data at the very end.
truncate -s $((16 * MiB - 4 * KiB)) data-at-end
island $((16 * MiB - 4 * KiB)) 'tail ' data-at-end
# A dense file for contrast (random content, so no tool can sparsify it).
head -c $((4 * MiB)) /dev/urandom > dense-4m

# --- many small files: 50 directories of 100, written by bash alone
mkdir -p "$D/many/d"{00..49}
for d in {00..49}; do
    for f in {000..099}; do
        printf 'small file %s/%s\n' "$d" "$f" > "$D/many/d$d/f$f"
    done
done
# A few empty ones among them.
: > "$D/many/d00/empty-a"
: > "$D/many/d49/empty-b"

# --- links: a hard link group of 3 names (one with a space, one in another
# directory), a pair, and symlinks: relative, absolute, dangling, to a
# directory, a chain, a loop, odd targets
mkdir -p "$D/links/sub" "$D/links/other dir"
cd "$D/links"
printf 'one inode, three names\n' > hl-one
ln hl-one "hl two"
ln hl-one sub/hl-three
printf 'a pair\n' > pair-a
ln pair-a "other dir/pair-b"
ln -s "../names/with space" rel-link
ln -s /srv/e2e-data/modes/setuid-true abs-link
ln -s does/not/exist dangling-link
ln -s ../many/d00 dir-link
ln -s rel-link chain-link
ln -s loop-link loop-link
ln -s $'target\nwith newline' newline-target-link
ln -s $'\xe9t\xe9 bytes' latin1-target-link

# --- special files
mkdir -p "$D/special"
mkfifo "$D/special/fifo"
mkfifo -m 0600 "$D/special/private fifo"

# --- xattrs and ACLs
mkdir -p "$D/xattr-acl/default-acl-dir"
cd "$D/xattr-acl"
printf 'has an ACL and xattrs\n' > acl-and-xattr
setfacl -m u:$OU:rw acl-and-xattr
setfattr -n user.e2e -v 'hello world' acl-and-xattr
setfattr -n user.e2e-binary -v 0x00ff00fe0a0d acl-and-xattr
setfattr -n user.e2e-empty acl-and-xattr
printf 'only an xattr\n' > xattr-only
setfattr -n user.comment -v 'restored?' xattr-only
setfattr -n trusted.e2e -v 'trusted namespace' xattr-only
printf 'only an ACL\n' > acl-only
setfacl -m u:$OU:r,g:$OG:rw,o::- acl-only
mkdir xattr-dir
setfattr -n user.dir -v 'on a directory' xattr-dir
# A default ACL, and what it hands down to new files and directories.
setfacl -d -m u:$OU:rwx,g:$OG:rx default-acl-dir
printf 'inherits the default ACL\n' > default-acl-dir/inherited-file
mkdir default-acl-dir/inherited-dir
# File capabilities are a security.* xattr: cap_net_raw+ep written in the
# kernel's version 2 format (magic 0x02000001 with the effective bit,
# permitted bit 13), as setcap would; libcap's tools are not in minbase.
cp /bin/true cap-net-raw-true
setfattr -n security.capability -v 0x0100000200200000000000000000000000000000 cap-net-raw-true

# --- empty things and fixed times (dates that a restore must set, not keep
# as "now"; one before 1970 and one after 2038)
mkdir -p "$D/empty-dir" "$D/times"
: > "$D/empty-file"
cd "$D/times"
printf '2000\n' > y2000
printf '1969\n' > before-epoch
printf '2100\n' > after-2038
touch -h -d @946684800 y2000
touch -h -d @-86400 before-epoch
touch -h -d @4102444800 after-2038
mkdir old-dir
touch -d @1000000000 old-dir

# --- outside /srv: a home and root's own files
mkdir -p "$H/Documents with space"
printf 'export E2E=1\n' > "$H/.profile"
printf 'report\n' > "$H/Documents with space/report.txt"
chown -R $OU:$OG "$H"
chmod 0750 "$H"
printf 'secret\n' > "$R/secret"
chmod 0600 "$R/secret"
chmod 0700 "$R"

# Directory times last: writing into a directory moves its mtime.
touch -d @1234567890 "$D/names" "$D/times"

entries=$(find "$D" "$H" "$R" -printf . | wc -c)
echo "E2E-TESTDATA root=$root entries=$entries seconds=$((SECONDS - t0))"
