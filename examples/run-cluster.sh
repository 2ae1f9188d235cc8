#!/usr/bin/env bash
# Starts the three members of application.conf (n1, n2, n3), each in its own JVM with its LevelDB
# journal under ./data/<node> and its log in ./data/<node>.log (the previous run's log is kept as
# ./data/<node>.log.1), prints their HTTP addresses and stops all three on Ctrl-C. Builds the jar
# first if it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
JAR=examples/target/raft-kv.jar
CONFIG=${CONFIG:-application.conf}
if [ ! -f "$JAR" ]; then
  echo "building $JAR ..."
  mvn -B -q -DskipTests package
fi
mkdir -p data
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
  java -jar "$JAR" --node "$n" --config "$CONFIG" > "data/$n.log" 2>&1 &
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
