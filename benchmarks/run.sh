#!/usr/bin/env bash
# The comparison of raft-actors, SOFAJRaft and Apache Ratis on KvBenchmark's workload, in one command:
# builds the benchmarks module (Maven profile "benchmarks") and runs Compare with the arguments given, e.g.
#   bash benchmarks/run.sh --configs raft-actors:segments,raft-actors:leveldb,jraft:sync,ratis:sync --clients 1,32,256 --rounds 2
# Results (Markdown table, CSV, SVG charts, every run's output) go to benchmarks/target/results/ unless --out DIR says otherwise.
# MVN_ARGS adds Maven options (e.g. MVN_ARGS=-o to build offline); JAVA picks the java command.
set -euo pipefail
cd "$(dirname "$0")/.."
mvn -B -q ${MVN_ARGS:-} -P benchmarks -DskipTests package -pl benchmarks -am
exec "${JAVA:-java}" -Dbench.command="bash benchmarks/run.sh $*" -jar benchmarks/target/raft-bench.jar "$@"
