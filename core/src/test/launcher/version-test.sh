#!/usr/bin/env bash
# Checks that the florence2 launcher, run on the built jars, reports the project's version (the jar manifest's
# Implementation-Version), as README's --version says, and prints nothing on stderr: no JVM warning either (the
# launcher leaves out the Vector API's incubator module, whose warning every run printed before). Run by core's
# integration-test phase (see core/pom.xml).
# Usage: version-test.sh VERSION
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../../.." && pwd)"
expected="florence2j $1"
errors="$(mktemp)"
trap 'rm -f "$errors"' EXIT
actual="$("$root/florence2" --version 2> "$errors" || true)"
if [ "$actual" != "$expected" ]; then
  echo "version-test: ./florence2 --version printed '$actual', expected '$expected'; its stderr:" >&2
  cat "$errors" >&2
  exit 1
fi
if [ -s "$errors" ]; then
  echo "version-test: ./florence2 --version printed on stderr:" >&2
  cat "$errors" >&2
  exit 1
fi
echo "version-test: ./florence2 --version prints '$expected' and nothing on stderr"
