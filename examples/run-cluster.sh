#!/usr/bin/env bash
# Starts the three members of application.conf (n1, n2, n3), each in its own JVM with its Raft log
# under ./data/<node> (raft.persistence.storage: segment files by default) and its output in
# ./data/<node>.log (the previous run's is kept as ./data/<node>.log.1), prints their HTTP addresses
# and stops all three on Ctrl-C. Builds the jar first if it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
JAR=examples/target/raft-kv.jar
CONFIG=${CONFIG:-application.conf}
if [ ! -f "$JAR" ]; then
  echo "building $JAR ..."
  mvn -B -q -DskipTests package
fi
mkdir -p data
# Start-up flags: a restarted member should serve again within a few seconds, also on a small busy
# machine, and a JVM spends most of its start loading and compiling Akka's classes. C1 only and the
# serial GC leave the CPU to the start (at some cost in peak throughput), and a class-data archive
# of the jar (AppCDS) saves most of the class loading: n1 writes data/raft-kv.jsa when it stops
# normally (Ctrl-C) if there is none for this jar yet; later starts use it. JAVA_OPTS replaces the
# first two flags.
JAVA_OPTS=${JAVA_OPTS:-"-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"}
CDS=data/raft-kv.jsa
cds_flag() {
  if [ -f "$CDS" ] && [ "$CDS" -nt "$JAR" ]; then
    echo "-XX:SharedArchiveFile=$CDS"
  elif [ "$1" = n1 ]; then
    echo "-XX:ArchiveClassesAtExit=$CDS -Xlog:cds=off"
  fi
}
pids=()
stop() {
  trap - INT TERM EXIT
  echo
  echo "stopping ${pids[*]}"
  kill "${pids[@]}" 2>/dev/null || true
  wait 2>/dev/null || true
}
trap stop INT TERM EXIT
for n in n1 n2 n3; do
  if [ -s "data/$n.log" ]; then mv -f "data/$n.log" "data/$n.log.1"; fi
  # shellcheck disable=SC2086 # JAVA_OPTS holds several flags
  java $JAVA_OPTS $(cds_flag "$n") -jar "$JAR" --node "$n" --config "$CONFIG" > "data/$n.log" 2>&1 &
  pids+=($!)
done
for n in n1 n2 n3; do
  for _ in $(seq 1 120); do
    if grep -q "running: HTTP at" "data/$n.log"; then break; fi
    if ! kill -0 "${pids[0]}" "${pids[1]}" "${pids[2]}" 2>/dev/null; then
      echo "a node exited; see data/n1.log data/n2.log data/n3.log" >&2
      exit 1
    fi
    sleep 0.5
  done
  grep -m1 "running: HTTP at" "data/$n.log" || { echo "$n did not start; see data/$n.log" >&2; exit 1; }
done
echo "cluster up. Try: curl -i -X PUT --data-binary hello http://127.0.0.1:8081/kv/greeting  (Ctrl-C stops all three)"
wait
