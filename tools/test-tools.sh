#!/bin/sh
# Installs the Debian tools the tests drive (the list, with why each is there: tools/test-tools.list).
# As root it installs only the missing packages, with apt-get, and says in one line what it
# installed; as a plain user it installs nothing and says what is missing and how to install it.
# `npm test` runs it first (pretest), and so does .ci/run.
set -eu
list="$(dirname "$0")/test-tools.list"
# Root's PATH on Debian has the sbin directories and a plain user's does not; the tests (and
# whoever runs them as root) find the tools there all the same.
search="$PATH:/usr/local/sbin:/usr/sbin:/sbin"

missing_tools=""
missing_packages=""
while read -r tool package path; do
  case "$tool" in '' | '#'*) continue ;; esac
  if [ -n "$path" ]; then
    [ -x "$path" ] && continue
  elif PATH="$search" command -v "$tool" >/dev/null 2>&1; then
    continue
  fi
  missing_tools="$missing_tools $tool"
  case " $missing_packages " in *" $package "*) ;; *) missing_packages="$missing_packages $package" ;; esac
done <"$list"
missing_tools="${missing_tools# }"
missing_packages="${missing_packages# }"

if [ -z "$missing_packages" ]; then
  echo "test-tools: every tool the tests drive is installed"
  exit 0
fi
if [ "$(id -u)" -ne 0 ]; then
  echo "test-tools: missing $missing_tools; the tests that need them are skipped. Install them with: sudo apt-get install --no-install-recommends $missing_packages (or run sudo tools/test-tools.sh)"
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "test-tools: missing $missing_tools, and there is no apt-get here: install the packages that provide them ($missing_packages on Debian)" >&2
  exit 1
fi
echo "test-tools: installing $missing_packages (for $missing_tools)"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# -qq still prints dpkg's unpacking lines; they say nothing the line above did not.
apt-get install -y -qq --no-install-recommends $missing_packages >/dev/null
