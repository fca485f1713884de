#!/usr/bin/env bash
# CI check of the Debian package: build it, install it into this machine with dpkg -i, check that
# the commands, man pages and systemd unit work as installed and that lintian finds no error,
# then purge it and check that nothing of it is left but what /etc/clumanager held.
# Installs what it needs when missing: dpkg-dev (dpkg-shlibdeps), lintian, man-db, systemd
# (systemd-analyze), and the package's own Depends.
set -euo pipefail
cd "$(dirname "$0")/../.."

fail() {
  echo "check-deb: $*" >&2
  exit 1
}
[ "$(id -u)" = 0 ] || fail "run it as root: it installs the package into this machine and purges it"
if dpkg-query -W -f='${db:Status-Status}' clumanager 2>/dev/null | grep -qv '^not-installed$'; then
  fail "clumanager is already installed here, and this check ends by purging it; remove it first (dpkg --purge clumanager)"
fi
if [ -e /etc/clumanager ]; then
  fail "/etc/clumanager already exists; this check must see the package create it"
fi
if [ -e /var/log/clumanager.log ]; then
  fail "/var/log/clumanager.log exists, and the purge at the end of this check removes it; move it away first"
fi

need=()
command -v dpkg-shlibdeps >/dev/null || need+=(dpkg-dev)
command -v lintian >/dev/null || need+=(lintian)
command -v man >/dev/null && command -v mandb >/dev/null || need+=(man-db)
command -v systemd-analyze >/dev/null || need+=(systemd)
apt_install() {
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "$@"
}
((${#need[@]} == 0)) || apt_install "${need[@]}"

work=$(mktemp -d /var/tmp/clumanager-check-XXXXXX)
installed=no
cleanup() {
  # A failed check still leaves the machine as it found it, as far as each step can.
  set +e
  [ "$installed" = yes ] && dpkg --purge clumanager >/dev/null 2>&1
  rm -rf "$work"
  rm -f /var/log/clumanager.log
  # /etc/clumanager did not exist before the check (see above), so whatever is in it is ours.
  rm -f /etc/clumanager/authkey.check
  rmdir /etc/clumanager 2>/dev/null
  return 0
}
trap cleanup EXIT

npx tsc -p .
npx tsx tools/package/build-deb.ts --out "$work"
deb=$(ls "$work"/clumanager_*.deb)
version=$(dpkg-deb -f "$deb" Version)

echo "check-deb: lintian (errors fail the check; warnings are listed)"
lintian --fail-on error --tag-display-limit 0 "$deb"

# The Depends this machine lacks, so that dpkg -i itself can succeed.
missing=()
for dep in $(dpkg-deb -f "$deb" Depends | tr ',' '\n' | sed 's/(.*//; s/|.*//; s/[[:space:]]//g'); do
  dpkg-query -W -f='${db:Status-Status}' "$dep" 2>/dev/null | grep -q '^installed$' || missing+=("$dep")
done
((${#missing[@]} == 0)) || apt_install "${missing[@]}"

installed=yes
dpkg -i "$deb"

echo "check-deb: the installed commands, pages, unit and /etc/clumanager"
for c in clumanager cluadmin clustonith cludiskutil; do
  [ "$(command -v "$c")" = "/usr/bin/$c" ] || fail "$c is not found at /usr/bin/$c"
  got=$("/usr/bin/$c" --version) || fail "/usr/bin/$c --version exited $?"
  [ "$got" = "$c $version" ] || fail "/usr/bin/$c --version printed \"$got\", not \"$c $version\""
done
# The installed tree loads: the rawio addon and the bundled modules (cludiskutil on two files of
# this ext4 scratch folder), and the daemon's front (status of a member that is not running: 3).
truncate -s 10M "$work/primary.img" "$work/backup.img"
cludiskutil -I --name pkgcheck --primary "$work/primary.img" --backup "$work/backup.img" >/dev/null ||
  fail "the installed cludiskutil -I failed"
cludiskutil -t --primary "$work/primary.img" --backup "$work/backup.img" >/dev/null ||
  fail "the installed cludiskutil -t failed"
status=0
clumanager status --run-dir "$work/run" >/dev/null || status=$?
[ "$status" = 3 ] || fail "the installed clumanager status exited $status, not 3 (not running)"
for page in clumanager cluadmin "5 cluster.conf"; do
  # shellcheck disable=SC2086 # "5 cluster.conf" is a section and a name.
  text=$(MANWIDTH=80 man -P cat $page 2>"$work/man.err") || fail "man $page failed: $(cat "$work/man.err")"
  [ ! -s "$work/man.err" ] || fail "man $page warned: $(cat "$work/man.err")"
  grep -q '^NAME' <<<"$text" || fail "man $page rendered no NAME section"
done
systemd-analyze verify /lib/systemd/system/clumanager.service ||
  fail "systemd-analyze verify /lib/systemd/system/clumanager.service failed"
systemd-analyze security --offline=true /lib/systemd/system/clumanager.service | tail -1
[ "$(stat -c %a /etc/clumanager)" = 700 ] || fail "/etc/clumanager is mode $(stat -c %a /etc/clumanager), not 700"
for f in /etc/init.d/clumanager /etc/default/clumanager; do
  dpkg-query -W -f='${Conffiles}\n' clumanager | grep -q " $f " || fail "$f is not a conffile"
done

echo "check-deb: a reinstall keeps the administrator's key and its directory's mode"
echo "not a real key" >/etc/clumanager/authkey.check
chmod 600 /etc/clumanager/authkey.check
chmod 750 /etc/clumanager
dpkg -i "$deb" >/dev/null
[ "$(cat /etc/clumanager/authkey.check)" = "not a real key" ] || fail "a reinstall changed /etc/clumanager/authkey.check"
[ "$(stat -c %a /etc/clumanager)" = 750 ] || fail "a reinstall changed /etc/clumanager's mode to $(stat -c %a /etc/clumanager)"
chmod 700 /etc/clumanager

# What the administrator may do, so that the purge has to undo it: enable the unit.
systemctl enable clumanager.service >/dev/null 2>&1 || fail "systemctl enable clumanager.service failed"
[ -L /etc/systemd/system/multi-user.target.wants/clumanager.service ] || fail "systemctl enable made no link"

echo "check-deb: dpkg --purge leaves nothing but what /etc/clumanager held"
# And what the daemon would have made: its log.
echo '{"msg":"a line the daemon logged"}' >/var/log/clumanager.log
dpkg -L clumanager >"$work/files"
dpkg --purge clumanager
installed=no
left=()
while IFS= read -r path; do
  [ "$path" = /. ] && continue
  [ -e "$path" ] || [ -L "$path" ] || continue
  # A directory another package owns (/usr/bin, /lib/systemd/system, /lib as usrmerge's link)
  # stays, as it should.
  if [ -d "$path" ] && dpkg-query -S "$path" >/dev/null 2>&1; then continue; fi
  left+=("$path")
done <"$work/files"
# (Not /run/clumanager: a checkout's cluadmin may be holding a lock file there right now.)
for extra in /etc/rc?.d/[SK]??clumanager /etc/systemd/system/*.wants/clumanager.service /var/log/clumanager.log; do
  if [ -e "$extra" ] || [ -L "$extra" ]; then left+=("$extra"); fi
done
((${#left[@]} == 0)) || fail "dpkg --purge left: ${left[*]}"
[ "$(cat /etc/clumanager/authkey.check 2>/dev/null)" = "not a real key" ] ||
  fail "dpkg --purge removed the administrator's /etc/clumanager/authkey.check"
rm -f /etc/clumanager/authkey.check

echo "check-deb: and it removes /etc/clumanager when it holds nothing"
installed=yes
dpkg -i "$deb" >/dev/null
dpkg --purge clumanager >/dev/null
installed=no
if [ -e /etc/clumanager ]; then fail "dpkg --purge left an empty /etc/clumanager"; fi
echo "check-deb: $(basename "$deb") installs, works, and purges cleanly"
