#!/bin/bash
# rear-build e2e: a canonical list of every file below the given paths, to
# compare a system before the backup with the same system after recovery
# (tests/src/fslist.rs compares two lists).
#
#   fslist.sh [--root DIR] [--exclude PATTERN]... [--no-default-excludes]
#             [--checksum sha256|sha512|sha1|md5|b2] [PATH...]
#
# PATHs are absolute paths as the listed system sees them (default /).
# --root DIR lists the system mounted at DIR (e.g. /mnt/local from the
# rescue system, or a test's temp dir) with paths printed as that system
# sees them: --root /mnt/local /etc prints /etc/... . Excludes are find
# -path patterns in the same namespace (/var/log/*.gz works); an excluded
# directory is skipped whole. Output goes to stdout, sorted; warnings to
# stderr; the exit code is 0 whenever a list was printed.
#
# One line per file: the path, then key=value fields, space separated:
#   /etc/passwd type=f mode=0644 uid=0 gid=0 size=1234 mtime=1700000000 sha256=<hex>
# Paths and values are escaped so that a line has no spaces or newlines:
# every byte outside '!'..'~' and the backslash is written \xHH (a space is
# \x20, a newline \x0a, a non-UTF-8 byte stays that byte's value). Fields,
# in this order, each only where it applies:
#   type      find's letter: f d l p s c b
#   mode      permission bits in octal with setuid/setgid/sticky (0644,
#             4755); not for symlinks (always 0777 on Linux)
#   uid gid   numeric owner
#   size      regular files
#   mtime     regular files and directories, whole seconds
#   target    symlinks: the link's text
#   hardlink  non-directories with more than one name in the list: the
#             group's first path in sort order (the same on every copy,
#             unlike inode numbers)
#   sha256    regular files without data_kib: the content's checksum
#             ("?" and a warning when unreadable); the key is the
#             --checksum algorithm
#   data_kib  regular files over 1023 KiB with holes: the ranges holding
#             data, in KiB, rounded out to 64 KiB and merged
#             ("0-64,1024-1088"; "none" for a file that is one hole). Left
#             out when the ranges cover the whole file, so a sparse file
#             restored dense (or the other way round) shows up, while the
#             block size and allocation details of the file system do not.
#   sha256_data  with data_kib, instead of sha256: the checksum of the
#             bytes in those ranges, one after the other. Holes read as
#             zeros, so equal size, data_kib and sha256_data mean equal
#             content, and a 1 GiB sparse file costs what its data costs
#             (hashing 1 GiB in a software-emulated VM takes minutes).
#   xattr.N   one per extended attribute N, value in hex (0x...); system.*
#             (the ACLs' own encoding) and security.selinux are left out
#   acl dacl  access / default ACL in getfacl's short text with numeric
#             ids, comma separated; acl only when it has more than the
#             three entries the mode already gives (user:1234:rw- or a
#             mask)
# Not recorded: ctime/atime and inode numbers (never kept by a restore),
# directory sizes and link counts (file system specific), device numbers
# of device nodes, symlink times, file attributes (chattr).
#
# Needs bash, coreutils, findutils, acl (getfacl), attr (getfattr) and, for
# files with holes, e2fsprogs' filefrag (FIEMAP: ext4, xfs, btrfs; not
# tmpfs, where such files get data_kib=?). Forks a fixed number of
# processes plus a few per large file with holes; the per-file work is
# bash builtins, while the checksums run on another CPU.
set -u -f
export LC_ALL=C

# What is never compared, relative to the listed system's root. Pseudo and
# volatile file systems; rear-build's own state, logs and caches (written
# by the backup itself); GRUB's directory (rewritten when the boot loader
# is installed during recovery); systemd's per-boot state; lost+found
# (made by mkfs; by name, anywhere).
DEFAULT_EXCLUDES=(
    /proc /sys /dev /run /tmp /var/tmp /mnt /media
    /var/lib/rear-build /var/log/rear-build /var/cache/rear-build
    /boot/grub
    /var/log/journal
    /var/lib/systemd/random-seed /var/lib/systemd/timers /var/lib/systemd/timesync
)

usage() { sed -n '6,15p' "$0" >&2; exit 2; }
root=/
excludes=()
defaults=1
sum=sha256
paths=()
while [ $# -gt 0 ]; do
    case "$1" in
        --root) root=${2:?--root needs a directory}; shift 2 ;;
        --exclude) excludes+=("${2:?--exclude needs a pattern}"); shift 2 ;;
        --no-default-excludes) defaults=0; shift ;;
        --checksum) sum=${2:?--checksum needs an algorithm}; shift 2 ;;
        -h|--help) usage ;;
        --) shift; paths+=("$@"); break ;;
        -*) echo "fslist.sh: unknown option $1" >&2; usage ;;
        *) paths+=("$1"); shift ;;
    esac
done
case "$sum" in sha256|sha512|sha1|md5|b2) ;; *) echo "fslist.sh: unknown checksum $sum" >&2; usage ;; esac
[ ${#paths[@]} -gt 0 ] || paths=(/)
[ $defaults = 1 ] && excludes=("${DEFAULT_EXCLUDES[@]}" "${excludes[@]}")
cd "$root" || { echo "fslist.sh: cannot enter $root" >&2; exit 2; }

# find walks from ".", so a path is "./etc/x" whatever --root is, and the
# excludes match the same way.
starts=()
for p in "${paths[@]}"; do
    case "$p" in /*) ;; *) echo "fslist.sh: $p is not an absolute path" >&2; exit 2 ;; esac
    while [ "$p" != / ] && [ "${p%/}" != "$p" ]; do p=${p%/}; done
    if [ "$p" = / ]; then starts+=(.); else starts+=(".$p"); fi
done
# Overlapping PATHs would walk some files twice: keep the outermost.
kept=()
for s in "${starts[@]}"; do
    inner=0
    for o in "${starts[@]}"; do
        if [ "$o" != "$s" ] && { [ "$o" = . ] || [[ $s == "$o"/* ]]; }; then inner=1; fi
    done
    for o in "${kept[@]}"; do [ "$o" != "$s" ] || inner=1; done
    [ $inner = 1 ] || kept+=("$s")
done
starts=("${kept[@]}")
prune=(-false)
for e in "${excludes[@]}"; do
    case "$e" in /*) ;; *) echo "fslist.sh: exclude $e is not an absolute path" >&2; exit 2 ;; esac
    prune+=(-o -path ".${e%/}")
done
prune+=(-o -name lost+found)

tmp=$(mktemp -d "${TMPDIR:-/tmp}/fslist.XXXXXX") || exit 2
trap 'rm -rf "$tmp"' EXIT
warnings=0
warn() { echo "fslist.sh: $*" >&2; warnings=$((warnings + 1)); }

# One walk writes everything bash reads and NUL-separated path lists for
# the batch tools: all paths (getfattr -h), all but symlinks (getfacl
# follows symlinks), regular files up to 1023 KiB (checksummed whole right
# away; larger ones may have holes, which bash looks at first) and the
# members of hard link groups. Each entry in "meta" is three items: the
# stat fields, the path, the symlink target (empty if none).
for f in meta all nolink small links; do : > "$tmp/$f"; done
find "${starts[@]}" \( "${prune[@]}" \) -prune -o \
    -fprintf "$tmp/meta" '%y %m %U %G %s %T@ %n %D:%i %b\0%p\0%l\0' \
    -fprint0 "$tmp/all" \
    \( -type l -o -fprint0 "$tmp/nolink" \) \
    \( ! -type f -o ! -size -1024k -o -fprint0 "$tmp/small" \) \
    \( -type d -o -links 1 -o -fprintf "$tmp/links" '%D:%i\0%p\0' \) ||
    warn "find reported errors (files vanished while listing?)"

# The batch tools in the background while bash reads the walk.
xargs -0 -r -a "$tmp/small" "${sum}sum" -z -- > "$tmp/sums" 2> "$tmp/sums.err" &
xargs -0 -r -a "$tmp/all" getfattr -h -d -m - -e hex --absolute-names -- > "$tmp/xattrs" 2> "$tmp/xattrs.err" &
xargs -0 -r -a "$tmp/nolink" getfacl -p -n -E --skip-base -- > "$tmp/acls" 2> "$tmp/acls.err" &

# esc STRING: sets REPLY to STRING with every byte outside '!'..'~' and the
# backslash written as \xHH.
esc() {
    local s=$1 out="" c h i
    for ((i = 0; i < ${#s}; i++)); do
        c=${s:i:1}
        if [[ $c == [\!-~] && $c != \\ ]]; then
            out+=$c
        else
            printf -v h '\\x%02x' "'$c"
            out+=$h
        fi
    done
    REPLY=$out
}

# name RAW: sets REPLY to the escaped path as the listed system sees it
# ("./etc/x" -> "/etc/x"); the common case is one pattern match.
name() {
    REPLY=${1#.}
    if [[ $REPLY == *[!\!-~]* || $REPLY == *\\* ]]; then
        esc "$REPLY"
    fi
    [ -n "$REPLY" ] || REPLY=/
}

# unquote STRING: getfattr and getfacl write a newline or carriage return
# in a name as \ooo (octal), a backslash as \134 (getfattr) or \\
# (getfacl) and every other byte as it is; sets REPLY to the raw name.
# printf's %b reads exactly these escapes.
unquote() {
    if [[ $1 == *\\* ]]; then
        printf -v REPLY '%b' "$1"
    else
        REPLY=$1
    fi
}

# data_of PATH SIZE: sets REPLY to the file's data ranges (see the header)
# from filefrag's extent list in 1 KiB units: "" when they cover the whole
# file, "?" when the file system cannot tell.
data_of() {
    local size_kib=$((($2 + 1023) / 1024)) out="" line s e cs=-1 ce=-1 ext
    local end=$((((size_kib + 63) / 64) * 64))
    mapfile -t ext < <(filefrag -v -s -b1024 -- "$1" 2>&1)
    if [[ ${ext[*]} != *"extent"*" found"* ]]; then
        warn "filefrag ${1#.}: ${ext[*]}"
        REPLY="?"
        return
    fi
    for line in "${ext[@]}"; do
        # "   3:   524288..  524291:   95338496..  95338499:      4: ...":
        # an extent's first and last logical KiB.
        [[ $line =~ ^\ *[0-9]+:\ *([0-9]+)\.\.\ *([0-9]+): ]] || continue
        # A preallocated (unwritten) extent reads as zeros: a hole to any
        # reader. xfs leaves one past where a restore extended the file.
        [[ $line == *unwritten* ]] && continue
        s=$((BASH_REMATCH[1] / 64 * 64))
        e=$(((BASH_REMATCH[2] + 1 + 63) / 64 * 64))
        [ $e -gt $end ] && e=$end
        if [ $cs -ge 0 ] && [ $s -le $ce ]; then
            [ $e -gt $ce ] && ce=$e
            continue
        fi
        [ $cs -ge 0 ] && out+=,$cs-$ce
        cs=$s
        ce=$e
    done
    [ $cs -ge 0 ] && out+=,$cs-$ce
    if [ "$out" = ",0-$end" ]; then
        REPLY=""
    elif [ -z "$out" ]; then
        REPLY=none
    else
        REPLY=${out#,}
    fi
}

# data_sum PATH RANGES: sets REPLY to the checksum of the bytes in RANGES
# (data_of's KiB ranges, multiples of 64), "?" when unreadable.
data_sum() {
    local r
    REPLY=$(
        set -o pipefail
        IFS=,
        for r in $2; do
            [ "$r" = none ] && continue
            dd if="$1" bs=64K iflag=fullblock skip=$((${r%-*} / 64)) \
                count=$(((${r#*-} - ${r%-*}) / 64)) status=none || exit 1
        done | "${sum}sum"
    ) || REPLY="?"
    REPLY=${REPLY%% *}
}

# Hard link groups by device:inode: their first path and size.
declare -A first count
mapfile -d '' -t H < "$tmp/links"
for ((i = 0; i < ${#H[@]}; i += 2)); do
    k=${H[i]}
    name "${H[i + 1]}"
    count[$k]=$((${count[$k]-0} + 1))
    if [ -z "${first[$k]-}" ] || [[ $REPLY < ${first[$k]} ]]; then
        first[$k]=$REPLY
    fi
done

# The line of every entry without the checksum, xattrs and ACLs, which are
# appended below in that order.
mapfile -d '' -t M < "$tmp/meta"
n=$((${#M[@]} / 3))
declare -A index   # raw path -> entry number
out=()
big=()             # entry numbers of regular files over 1023 KiB
nreg=0
for ((i = 0; i < n; i++)); do
    p=${M[3 * i + 1]}
    index[$p]=$i
    name "$p"
    r=$REPLY
    # type mode uid gid size mtime nlink dev:ino blocks
    # Word splitting on purpose (globbing is off): "read -a" from a
    # here-string costs a pipe per file.
    # shellcheck disable=SC2206
    f=(${M[3 * i]})
    mode=000${f[1]}
    mode=${mode: -4}
    case "${f[0]}" in
        f)
            r+=" type=f mode=$mode uid=${f[2]} gid=${f[3]} size=${f[4]} mtime=${f[5]%%.*}"
            nreg=$((nreg + 1))
            [ "${f[4]}" -gt 1047552 ] && big+=("$i")
            ;;
        d) r+=" type=d mode=$mode uid=${f[2]} gid=${f[3]} mtime=${f[5]%%.*}" ;;
        l)
            t=${M[3 * i + 2]}
            if [[ $t == *[!\!-~]* || $t == *\\* ]]; then
                esc "$t"
                t=$REPLY
            fi
            r+=" type=l uid=${f[2]} gid=${f[3]} target=$t"
            ;;
        *) r+=" type=${f[0]} mode=$mode uid=${f[2]} gid=${f[3]}" ;;
    esac
    if [ "${f[6]}" != 1 ] && [ "${count[${f[7]}]-0}" -gt 1 ]; then
        r+=" hardlink=${first[${f[7]}]}"
    fi
    out[i]=$r
done

# Large files: the ones without holes checksummed whole in the background,
# the others mapped and checksummed range by range here.
declare -A summed   # entry numbers with a checksum
dense=()
for i in "${big[@]}"; do
    p=${M[3 * i + 1]}
    # shellcheck disable=SC2206 # as above
    f=(${M[3 * i]})
    if [ $((f[8] * 512)) -ge "${f[4]}" ]; then
        dense+=("$p")
        continue
    fi
    data_of "$p" "${f[4]}"
    if [ -z "$REPLY" ]; then
        # Holes too small to count: checksum the whole file after all.
        dense+=("$p")
        continue
    fi
    out[i]+=" data_kib=$REPLY"
    summed[$i]=1
    if [ "$REPLY" = "?" ]; then
        out[i]+=" ${sum}_data=?"
        continue
    fi
    data_sum "$p" "$REPLY"
    [ "$REPLY" = "?" ] && warn "cannot read ${out[i]%% *}"
    out[i]+=" ${sum}_data=$REPLY"
done
if [ ${#dense[@]} -gt 0 ]; then
    printf '%s\0' "${dense[@]}" | xargs -0 -r "${sum}sum" -z -- > "$tmp/sums2" 2> "$tmp/sums2.err" &
fi

wait
for f in sums sums2 xattrs acls; do
    if [ -s "$tmp/$f.err" ]; then
        warn "$f: $(head -c 2000 "$tmp/$f.err")"
    fi
done

: >> "$tmp/sums2"
mapfile -d "" -t S < <(cat "$tmp/sums" "$tmp/sums2")
for s in "${S[@]}"; do
    # "<hex>  <path>"; -z turns off the tool's own escaping of the path.
    i=${index[${s#*  }]-}
    [ -n "$i" ] || continue
    out[i]+=" $sum=${s%% *}"
    summed[$i]=1
done
if [ ${#summed[@]} -ne $nreg ]; then
    for ((i = 0; i < n; i++)); do
        if [[ ${out[i]} == *" type=f "* ]] && [ -z "${summed[$i]-}" ]; then
            warn "no checksum for ${out[i]%% *}"
            out[i]+=" $sum=?"
        fi
    done
fi

mapfile -t L < "$tmp/xattrs"
i=""
for l in "${L[@]}"; do
    case "$l" in
        "# file: "*) unquote "${l#\# file: }"; i=${index[$REPLY]-} ;;
        "") ;;
        *)
            [ -n "$i" ] || continue
            unquote "${l%%=*}"
            case "$REPLY" in system.* | security.selinux) continue ;; esac
            esc "$REPLY"
            out[i]+=" xattr.$REPLY=${l#*=}"
            ;;
    esac
done

# getfacl prints a file's entries together: access, then default ones.
acl_flush() {
    [ -n "$i" ] || return 0
    # A minimal access ACL (user::, group::, other::) is only the mode.
    if [[ $acl == *,user:[!:]* || $acl == *,group:[!:]* || $acl == *,mask:* ]]; then
        out[i]+=" acl=${acl#,}"
    fi
    [ -z "$dacl" ] || out[i]+=" dacl=${dacl#,}"
}
mapfile -t L < "$tmp/acls"
i=""
acl=""
dacl=""
for l in "${L[@]}"; do
    case "$l" in
        "# file: "*)
            acl_flush
            acl=""
            dacl=""
            unquote "${l#\# file: }"
            i=${index[$REPLY]-}
            ;;
        "#"* | "") ;;
        default:*) dacl+=,${l#default:} ;;
        *) acl+=,$l ;;
    esac
done
acl_flush

[ $n -gt 0 ] && printf '%s\n' "${out[@]}" | sort
[ $warnings -gt 0 ] && echo "fslist.sh: $n entries, $warnings warnings" >&2
exit 0
