#!/usr/bin/env bash
# Starts the three founding members of the KV group (n1, n2, n3 of $CONFIG), each in its own JVM
# with its Raft log under $DATA/<node> (raft.persistence.storage: segment files by default) and its
# output in $DATA/<node>.log (the previous start's log is kept as $DATA/<node>.log.1). It says
# "cluster up" only once every member serves HTTP, has recovered its log and knows the same leader; it reports a member that exits, with the
# end of its log, whenever that happens. Ctrl-C stops all three. Builds the jar if it is missing.
#
# Environment: CONFIG (default application.conf), DATA (default data), JAR (default
# examples/target/raft-kv.jar), JAVA_OPTS (see below), START_TIMEOUT (seconds until a leader must
# be known, default 120).
set -euo pipefail
cd "$(dirname "$0")/.."
JAR=${JAR:-examples/target/raft-kv.jar}
CONFIG=${CONFIG:-application.conf}
DATA=${DATA:-data}
START_TIMEOUT=${START_TIMEOUT:-120}
MEMBERS=(n1 n2 n3)
if ! command -v curl > /dev/null; then
  echo "curl is needed to see when a leader is known" >&2
  exit 2
fi
if [ ! -f "$JAR" ]; then
  echo "building $JAR ..."
  mvn -B -q -DskipTests package
fi
mkdir -p "$DATA"
# Start-up flags: a restarted member should serve again within a few seconds, also on a small busy
# machine, and a JVM spends most of its start loading and compiling Akka's classes. C1 only and the
# serial GC leave the CPU to the start (at some cost in peak throughput), and a class-data archive
# of the jar (AppCDS) saves most of the class loading: n1 writes $DATA/raft-kv.jsa when it stops
# normally (Ctrl-C) if there is none for this jar yet; later starts use it. JAVA_OPTS replaces the
# first two flags.
JAVA_OPTS=${JAVA_OPTS:-"-XX:TieredStopAtLevel=1 -XX:+UseSerialGC"}
CDS=$DATA/raft-kv.jsa
cds_flag() {
  if [ -f "$CDS" ] && [ "$CDS" -nt "$JAR" ]; then
    echo "-XX:SharedArchiveFile=$CDS"
  elif [ "$1" = n1 ]; then
    echo "-XX:ArchiveClassesAtExit=$CDS -Xlog:cds=off"
  fi
}

pids=()     # pid of each member, in the order of MEMBERS
exited=()   # "yes" once a member's exit was reported
stopping=no

# Stops the members that still run: SIGTERM (each hands over its leadership and stops its
# ActorSystem), then SIGKILL for any still running after 30 s.
stop() {
  trap - INT TERM HUP EXIT
  trap '' PIPE # the members are stopped even if nobody reads this script's output any more
  if [ $stopping = yes ] || [ ${#pids[@]} -eq 0 ]; then return; fi
  stopping=yes
  local alive=()
  for pid in "${pids[@]}"; do
    if kill -0 "$pid" 2> /dev/null; then alive+=("$pid"); fi
  done
  if [ ${#alive[@]} -eq 0 ]; then return; fi
  echo
  echo "stopping ${alive[*]}"
  kill "${alive[@]}" 2> /dev/null || true
  for _ in $(seq 1 60); do
    local running=no
    for pid in "${alive[@]}"; do
      if kill -0 "$pid" 2> /dev/null; then running=yes; fi
    done
    if [ $running = no ]; then break; fi
    sleep 0.5
  done
  kill -KILL "${alive[@]}" 2> /dev/null || true
  wait 2> /dev/null || true
}
trap stop EXIT
trap 'stop; exit 0' INT TERM HUP

# Reports each member that exited since the last call, once: its exit code and the end of its log.
# Sets alive to the number of members that still run.
alive=0
report_exits() {
  alive=0
  for i in "${!MEMBERS[@]}"; do
    local n=${MEMBERS[$i]} pid=${pids[$i]}
    if [ "${exited[$i]}" = yes ]; then continue; fi
    if kill -0 "$pid" 2> /dev/null; then
      alive=$((alive + 1))
      continue
    fi
    local code=0
    wait "$pid" 2> /dev/null || code=$?
    exited[$i]=yes
    {
      echo "$(date +%T) member $n (pid $pid) exited with code $code; the end of $DATA/$n.log:"
      tail -n 5 "$DATA/$n.log" | sed 's/^/    /'
    } >&2
  done
}

for n in "${MEMBERS[@]}"; do
  if [ -s "$DATA/$n.log" ]; then mv -f "$DATA/$n.log" "$DATA/$n.log.1"; fi
  : > "$DATA/$n.log" # here, not in the background job: the loop below reads it at once
  # shellcheck disable=SC2086 # JAVA_OPTS holds several flags
  java $JAVA_OPTS $(cds_flag "$n") -jar "$JAR" --node "$n" --config "$CONFIG" --data-dir "$DATA" >> "$DATA/$n.log" 2>&1 &
  pids+=($!)
  exited+=(no)
done
echo "started n1 (pid ${pids[0]}), n2 (pid ${pids[1]}), n3 (pid ${pids[2]}); logs in $DATA/n1.log, $DATA/n2.log, $DATA/n3.log"

# The HTTP address each member prints once it serves, e.g. "node n1 running: HTTP at http://127.0.0.1:8081, ...".
http=()
leader_line=""
statuses=()
deadline=$((SECONDS + START_TIMEOUT))
while :; do
  report_exits
  if [ $alive -lt ${#MEMBERS[@]} ]; then
    echo "a member exited before the cluster was up; stopping the others" >&2
    exit 1
  fi
  for i in "${!MEMBERS[@]}"; do
    if [ -z "${http[$i]:-}" ]; then
      http[$i]=$(sed -n 's/^node [^ ]* running: HTTP at \(http:[^,]*\),.*/\1/p' "$DATA/${MEMBERS[$i]}.log" 2> /dev/null | head -n 1 || true)
    fi
  done
  # Up: every member serves, has recovered (RUNNING) and names the same leader, which says it leads.
  leaders=""
  running=0
  for i in "${!MEMBERS[@]}"; do
    statuses[$i]=""
    if [ -z "${http[$i]}" ]; then continue; fi
    statuses[$i]=$(curl -s -m 2 "${http[$i]}/status" || true)
    case ${statuses[$i]} in *'"phase":"RUNNING"'*) running=$((running + 1)) ;; esac
    leaders="$leaders $(printf '%s' "${statuses[$i]}" | sed -n 's/.*"leader":"\([^"]*\)".*/\1/p')"
  done
  if [ $running -eq ${#MEMBERS[@]} ]; then
    # shellcheck disable=SC2086 # word splitting wanted
    set -- $leaders
    if [ $# -eq ${#MEMBERS[@]} ] && [ "$1" = "$2" ] && [ "$2" = "$3" ]; then
      for i in "${!MEMBERS[@]}"; do
        if [ "${MEMBERS[$i]}" = "$1" ]; then
          case ${statuses[$i]} in
            *'"role":"LEADER"'*)
              term=$(printf '%s' "${statuses[$i]}" | sed -n 's/.*"term":\([0-9]*\).*/\1/p')
              leader_line="leader $1 in term $term"
              ;;
          esac
        fi
      done
    fi
  fi
  if [ -n "$leader_line" ]; then break; fi
  if [ $SECONDS -ge $deadline ]; then
    echo "no leader known to all members after ${START_TIMEOUT} s; their status:" >&2
    for i in "${!MEMBERS[@]}"; do
      echo "  ${MEMBERS[$i]}: ${statuses[$i]:-no HTTP answer yet}" >&2
    done
    exit 1
  fi
  sleep 0.5
done
# Whether the members founded a group or recovered one from their journals (the node logs which).
empty=()
for n in "${MEMBERS[@]}"; do
  if grep -q "starts on empty storage" "$DATA/$n.log"; then empty+=("$n"); fi
done
if [ ${#empty[@]} -eq ${#MEMBERS[@]} ]; then
  group="a new group, journaled in $DATA/"
elif [ ${#empty[@]} -eq 0 ]; then
  group="continuing the group journaled in $DATA/ by an earlier run (delete $DATA/ to start a new group)"
else
  group="continuing the group journaled in $DATA/; ${empty[*]} started on empty storage"
fi
echo "cluster up: $leader_line; $group"
echo "HTTP at ${http[0]}, ${http[1]}, ${http[2]}"
echo "Try: curl -i -L -X PUT --data-binary hello ${http[0]}/kv/greeting   (Ctrl-C stops all three)"

# Until Ctrl-C: report members that exit (the others go on; a group of three survives one).
while :; do
  report_exits
  if [ $alive -eq 0 ]; then
    echo "all members have exited" >&2
    exit 1
  fi
  sleep 1 &
  wait $! || true
done
