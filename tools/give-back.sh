#!/bin/sh
# After `sudo npm test` in a plain user's checkout: gives back to that user every file the run
# left owned by root (dist/, the addon's build, vitest's cache), so the user's own next
# `npm test`, `tsc` or `npm install` does not fail on a file it cannot overwrite. It acts only as
# root, only under sudo, and only when the checkout belongs to the user sudo came from.
set -eu
cd "${1:-$(dirname "$0")/..}"
[ "$(id -u)" -eq 0 ] || exit 0
[ -n "${SUDO_UID:-}" ] && [ "$SUDO_UID" -ne 0 ] || exit 0
[ "$(stat -c %u .)" = "$SUDO_UID" ] || exit 0
# -xdev: never follow the checkout onto another filesystem (a mounted scratch disk).
find . -xdev -user 0 -exec chown -h "$SUDO_UID:${SUDO_GID:-$SUDO_UID}" {} +
echo "give-back: the files this run made as root in $(pwd) belong to uid $SUDO_UID again"
