#!/usr/bin/env bash
# Install, with apt-get on Debian 12, the packages that Monkey's tests and tools need.
#
# Usage: scripts/install-deps.sh [--bench] [--fuzz] [--all] [--list | --check] [-h]
#
#   (no option)  the "test" group: what `make check` needs
#   --bench      also the benchmark tools and the servers we compare against
#   --fuzz       also the fuzzing tools
#   --all        --bench and --fuzz
#   --list       print the selected packages ("name installed|missing") and exit
#   --check      print the missing selected packages; exit 1 if any (no root needed)
#
# Nothing is done when every selected package is installed already: apt is not touched
# and root is not needed.  Otherwise run it as root: it runs `apt-get update` once, then
# installs only the missing packages.  Web servers installed by --bench (nginx, lighttpd,
# h2o) are kept from starting and disabled, so they do not sit on port 80.
set -euo pipefail

TEST_PKGS=(curl python3 pkg-config liburing-dev lttng-tools liblttng-ust-dev babeltrace2 libbabeltrace2-dev
           python3-bt2 clang libclang-rt-14-dev strace valgrind nghttp2-client slowhttptest
           procps iproute2 util-linux)
BENCH_PKGS=(wrk nginx-light lighttpd h2o linux-perf)
FUZZ_PKGS=(clang libclang-rt-14-dev afl++)

# Packages that may be missing from the archive: skipped with a note instead of failing.
OPTIONAL_PKGS=(afl++)

# Init scripts of the web servers that must not be left running, and the package of each.
declare -A SERVICE_PKG=([nginx]=nginx-light [lighttpd]=lighttpd [h2o]=h2o)

prog=$0
orig_args=("$@")

usage() {
    sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"
}

die() {
    echo "install-deps: $*" >&2
    exit 1
}

mode=install
bench=0
fuzz=0
for arg in "$@"; do
    case $arg in
    --bench) bench=1 ;;
    --fuzz) fuzz=1 ;;
    --all) bench=1 fuzz=1 ;;
    --list) mode=list ;;
    --check) mode=check ;;
    -h | --help) usage; exit 0 ;;
    *) usage >&2; die "unknown option '$arg'" ;;
    esac
done

# The selected packages, each once, in order.
selected=()
declare -A seen=()
add_pkgs() {
    local p
    for p in "$@"; do
        if [[ -z ${seen[$p]+x} ]]; then
            seen[$p]=1
            selected+=("$p")
        fi
    done
}
add_pkgs "${TEST_PKGS[@]}"
((bench)) && add_pkgs "${BENCH_PKGS[@]}"
((fuzz)) && add_pkgs "${FUZZ_PKGS[@]}"

command -v dpkg-query >/dev/null 2>&1 ||
    die "dpkg-query not found: this script is for Debian (12, bookworm) and its derivatives"

is_installed() {
    [[ $(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true) == "install ok installed" ]]
}

is_optional() {
    local o
    for o in "${OPTIONAL_PKGS[@]}"; do
        [[ $o == "$1" ]] && return 0
    done
    return 1
}

missing=()
for p in "${selected[@]}"; do
    is_installed "$p" || missing+=("$p")
done

case $mode in
list)
    for p in "${selected[@]}"; do
        if is_installed "$p"; then
            printf '%s installed\n' "$p"
        else
            printf '%s missing\n' "$p"
        fi
    done
    exit 0
    ;;
check)
    if ((${#missing[@]})); then
        echo "missing: ${missing[*]}"
        exit 1
    fi
    exit 0
    ;;
esac

if ((${#missing[@]} == 0)); then
    if ((bench || fuzz)); then
        echo "all selected dependencies present"
    else
        echo "all test dependencies present"
    fi
    exit 0
fi

echo "missing packages: ${missing[*]}"

if [[ $(id -u) -ne 0 ]]; then
    cmd="sudo $(printf '%q' "$prog")"
    for a in "${orig_args[@]}"; do
        cmd+=" $(printf '%q' "$a")"
    done
    echo "install-deps: must be run as root to install them; run:" >&2
    echo "    $cmd" >&2
    exit 1
fi

command -v apt-get >/dev/null 2>&1 || die "apt-get not found"

export DEBIAN_FRONTEND=noninteractive
APT_OPTS=(-o DPkg::Lock::Timeout=300)

echo "+ apt-get update"
apt-get "${APT_OPTS[@]}" update -q

# Keep only what the archive has; an optional package it lacks is skipped with a note.
to_install=()
unavailable=()
for p in "${missing[@]}"; do
    candidate=$(apt-cache policy "$p" 2>/dev/null | awk '$1 == "Candidate:" { print $2 }')
    if [[ -z $candidate || $candidate == "(none)" ]]; then
        if is_optional "$p"; then
            echo "note: package '$p' is not available from the configured archives; skipping it"
        else
            unavailable+=("$p")
        fi
    else
        to_install+=("$p")
    fi
done
((${#unavailable[@]} == 0)) ||
    die "not available from the configured archives: ${unavailable[*]} (is this Debian 12?)"

# While installing, forbid the web servers' init scripts from starting them (Debian starts
# a daemon in its postinst).  policy-rc.d gets the init script name as $1; exit 101 means
# "action forbidden".  An existing policy-rc.d (e.g. in containers) is left alone.
POLICY=/usr/sbin/policy-rc.d
policy_ours=0
cleanup() {
    if ((policy_ours)); then
        rm -f "$POLICY"
    fi
}
trap cleanup EXIT
if [[ ! -e $POLICY ]]; then
    policy_ours=1
    cat >"$POLICY" <<'POLICY_EOF'
#!/bin/sh
# Written by Monkey's scripts/install-deps.sh for the length of one install; removed after.
case "$1" in
nginx | lighttpd | h2o) exit 101 ;;
esac
exit 0
POLICY_EOF
    chmod 755 "$POLICY"
fi

if ((${#to_install[@]})); then
    echo "+ apt-get install -y --no-install-recommends ${to_install[*]}"
    apt-get "${APT_OPTS[@]}" install -y --no-install-recommends "${to_install[@]}"
fi

cleanup
policy_ours=0

# The pid file that a web server's stock configuration names, if any.
pid_file_of() {
    local f=""
    case $1 in
    nginx)
        [[ -r /etc/nginx/nginx.conf ]] &&
            f=$(awk '$1 == "pid" { sub(/;$/, "", $2); print $2; exit }' /etc/nginx/nginx.conf)
        f=${f:-/run/nginx.pid}
        ;;
    lighttpd)
        [[ -r /etc/lighttpd/lighttpd.conf ]] &&
            f=$(sed -n 's/^[[:space:]]*server\.pid-file[[:space:]]*=[[:space:]]*"\([^"]*\)".*/\1/p' \
                /etc/lighttpd/lighttpd.conf | head -n 1)
        f=${f:-/run/lighttpd.pid}
        ;;
    h2o)
        [[ -r /etc/h2o/h2o.conf ]] &&
            f=$(awk '$1 == "pid-file:" { print $2; exit }' /etc/h2o/h2o.conf)
        f=${f:-/run/h2o.pid}
        ;;
    esac
    printf '%s\n' "$f"
}

# Make sure a web server that this run installed is stopped and will not start at boot.
stop_service() {
    local svc=$1 pidfile pid exe
    if [[ -d /run/systemd/system ]] && command -v systemctl >/dev/null 2>&1; then
        systemctl disable --now "$svc" >/dev/null 2>&1 || true
    elif command -v update-rc.d >/dev/null 2>&1 && [[ -e /etc/init.d/$svc ]]; then
        update-rc.d "$svc" disable >/dev/null 2>&1 || true
    fi
    if [[ -x /etc/init.d/$svc ]] && service "$svc" status >/dev/null 2>&1; then
        echo "+ service $svc stop"
        service "$svc" stop || true
    fi
    # Whatever the init script missed: the process its pid file names, if it is that server.
    pidfile=$(pid_file_of "$svc")
    if [[ -n $pidfile && -r $pidfile ]]; then
        pid=$(tr -dc '0-9' <"$pidfile")
        if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null; then
            exe=$(readlink "/proc/$pid/exe" 2>/dev/null || true)
            if [[ ${exe##*/} == "$svc" ]]; then
                echo "+ kill -TERM $pid ($svc, from $pidfile)"
                kill -TERM "$pid" || true
            fi
        fi
    fi
}

for svc in "${!SERVICE_PKG[@]}"; do
    for p in "${to_install[@]}"; do
        if [[ $p == "${SERVICE_PKG[$svc]}" ]]; then
            stop_service "$svc"
        fi
    done
done

still=()
for p in "${to_install[@]}"; do
    is_installed "$p" || still+=("$p")
done
((${#still[@]} == 0)) || die "still not installed: ${still[*]}"
echo "installed: ${to_install[*]:-nothing}"
