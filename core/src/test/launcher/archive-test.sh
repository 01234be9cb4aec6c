#!/usr/bin/env bash
# Checks the florence2 launcher's class-data archive on the built jars: a run writes it when there is none, the
# next run maps it, and after a rebuild (a jar newer than the archive, which the JVM would neither map nor rewrite)
# a run replaces it and the run after maps the new one. Run by core's integration-test phase (see core/pom.xml).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../../.." && pwd)"
archive="$root/core/target/florence2j-cli.jsa"
jar="$(ls "$root"/core/target/florence2j-core-*.jar | grep -v -e sources -e javadoc -e tests | head -n 1)"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT

fail() {
  echo "archive-test: $*" >&2
  echo "--- the last run's log:" >&2
  cat "$log" >&2
  exit 1
}

# One caption of two tokens on the tiny model, with the JVM's CDS log on stderr.
run() {
  FLORENCE2J_JAVA_OPTS="-Xlog:cds,cds+dynamic:stderr" "$root/florence2" run \
    --model "$root/core/src/test/resources/golden/tiny/model" --max-new-tokens 2 \
    "$root/examples/images/shapes.png" > /dev/null 2> "$log" || fail "the launcher failed"
}

maps_archive() {
  grep -q "Mapped dynamic region" "$log" && ! grep -q "Unable to use shared archive" "$log"
}

rm -f "$archive"
run
[ -f "$archive" ] || fail "a run without an archive wrote none at $archive"
run
maps_archive || fail "the run after the one that wrote $archive did not map it"

# A rebuild: the jar is newer than the archive (by more than a second, for file systems that keep whole seconds;
# the run after it takes longer than one, so the archive it writes is newer again).
sleep 2
touch "$jar"
run
[ "$archive" -nt "$jar" ] || fail "the run after a rebuild did not replace the archive older than $jar"
run
maps_archive || fail "the archive written after a rebuild was not mapped"
echo "archive-test: the launcher writes, maps and, after a rebuild, replaces its class-data archive"
