#!/bin/sh
# Debian packages the test suite needs (servers and a browser the tests start themselves, Tesseract OCR).
# usage: sh tests/system_deps.sh PACKAGE...   (called by `make test`)
# Each package counts as present when its program is; the missing ones are installed with apt-get
# when run as root (CI, a fresh machine), else named in one line with the command to install them.
set -eu

present() {
  case "$1" in
    postgresql)
      # Debian keeps the server's programs off PATH, under the major version's folder
      for f in /usr/lib/postgresql/*/bin/pg_ctl; do [ -x "$f" ] && return 0; done
      command -v pg_ctl >/dev/null 2>&1 ;;
    tesseract-ocr)
      command -v tesseract >/dev/null 2>&1 ;;
    tesseract-ocr-*|fonts-*)
      # data only (OCR languages, the CJK font the OCR tests draw scans with): ask dpkg
      dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "ok installed" ;;
    *)  # redis-server, chromium, haproxy: the program has the package's name
      command -v "$1" >/dev/null 2>&1 ;;
  esac
}

missing=""
for pkg in "$@"; do
  present "$pkg" || missing="$missing $pkg"
done
missing=${missing# }
[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
  echo "missing system packages: run sudo apt-get install -y $missing" >&2
  exit 1
fi
echo "installing system packages: $missing" >&2
# shellcheck disable=SC2086  # one word per package
apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
still=""
for pkg in $missing; do
  present "$pkg" || still="$still $pkg"
done
if [ -n "$still" ]; then
  echo "installed, but their programs are still not found:$still" >&2
  exit 1
fi
