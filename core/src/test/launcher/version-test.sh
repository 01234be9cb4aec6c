#!/usr/bin/env bash
# Checks that the florence2 launcher, run on the built jars, reports the project's version (the jar manifest's
# Implementation-Version), as README's --version says. Run by core's integration-test phase (see core/pom.xml).
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
echo "version-test: ./florence2 --version prints '$expected'"
