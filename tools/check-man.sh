#!/bin/sh
# Lints the man pages (every page in man/, or the pages named) with mandoc. A warning or worse
# fails: a stray control byte, an unparsable date, a broken macro. Style hints such as lines over
# 80 bytes do not, since the pages keep one sentence per source line.
set -eu
cd "$(dirname "$0")/.."
if ! command -v mandoc >/dev/null 2>&1; then
  echo "check-man: mandoc is not installed; install the mandoc package" >&2
  exit 1
fi
[ "$#" -gt 0 ] || set -- man/*.[1-8]
if ! mandoc -Tlint -W warning "$@" >&2; then
  echo "check-man: fix the mandoc warnings and errors above (mandoc -Tlint PAGE shows them all)" >&2
  exit 1
fi
