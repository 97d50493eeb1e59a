#!/usr/bin/env bash
# Exit 0 when every package of the "test" group (scripts/install-deps.sh) is installed;
# otherwise print the missing ones and exit 1.  Never installs anything, needs no root.
# Options are passed on, so `scripts/have-deps.sh --bench` checks that group too.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
if out=$("$here/install-deps.sh" --check "$@"); then
    exit 0
fi
echo "$out"
if [[ $(id -u) -eq 0 ]]; then
    echo "install them with: scripts/install-deps.sh${*:+ $*}" >&2
else
    echo "install them with: sudo scripts/install-deps.sh${*:+ $*}" >&2
fi
exit 1
