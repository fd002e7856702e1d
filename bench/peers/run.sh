#!/usr/bin/env bash
# Builds realtime-server, realtime-bench and the peer servers of this
# module, runs every scenario against realtime, centrifuge and melody (and
# the floor, when SERVERS names it), interleaved (realtime, centrifuge,
# melody for each scenario, the whole list REPS times), each run against a
# fresh server process of its own, and prints one markdown table of the
# medians. About 10 minutes on 2 cores
# (each run may first wait up to 10 s for a quiet machine: see QUIET).
#
#   bench/peers/run.sh                 # from the repository root, or anywhere
#   REPS=1 DURATION=3s bench/peers/run.sh     # a quick look
#
# Environment:
#   REPS      repetitions (default 3)
#   DURATION  measured time of window, paced and connect runs (default 10s)
#   STORE     realtime-server -store: memory (default), sqlite, postgres
#   ADAPTER   realtime-server -adapter: local (default), redis
#   SERVERS   servers to run (default "realtime centrifuge melody"); also
#             floor, the least a server on net/http and coder/websocket does
#             (cmd/floor-server: a token check and an ack), which runs the
#             connect and idle scenarios only
#   ONLY      run only the scenarios whose name contains this (default: all)
#   BENCH_FLAGS  more realtime-bench flags for every run (-plain: payloads
#             of plain 'x' instead of the default realistic text)
#   PIN       1: pin each server to CPU 1 and the bench to CPU 0 (taskset);
#             default 0: server and bench share both cores
#   QUIET     before each run, wait (at most 10 s) until the machine's
#             CPUs are this percent idle over half a second (default 90;
#             0: do not wait): what the last run left behind (a process
#             exiting, thousands of sockets closing) must not load the next
#   PORT      the servers listen on 127.0.0.1:PORT, PORT+1 and PORT+2 (PORT+3
#             an earlier build, BASE; PORT+4 the floor)
#             (default 8090)
#   BASE      a git revision: also run the realtime-server built from it, as
#             the column realtime@BASE, interleaved with the others (before
#             and after a change, in one run)
#   WORK      where binaries, logs and results go (default: a new temp dir)
#   WRITE     1: also write the table, the machine and the load into
#             BENCHMARKS.md, between its results:begin and results:end
#             marks (what `WRITE=1 bench/peers/run.sh` regenerates)
#
# Everything listens and connects on 127.0.0.1 only.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
REPS=${REPS:-3}
DURATION=${DURATION:-10s}
STORE=${STORE:-memory}
ADAPTER=${ADAPTER:-local}
SERVERS=${SERVERS:-realtime centrifuge melody}
ONLY=${ONLY:-}
PIN=${PIN:-0}
PORT=${PORT:-8090}
QUIET=${QUIET:-90}
case "$QUIET" in
*[!0-9]*) printf 'QUIET=%s: want a whole percentage\n' "$QUIET" >&2; exit 1 ;;
esac
WORK=${WORK:-$(mktemp -d "${TMPDIR:-/tmp}/realtime-bench.XXXXXX")}
mkdir -p "$WORK/logs"
results="$WORK/results.jsonl"
: >"$results"

say() { printf '%s\n' "$*" >&2; }

say "== building into $WORK"
(cd "$root" && go build -o "$WORK/" ./cmd/realtime-server ./cmd/realtime-bench)
(cd "$here" && go build -o "$WORK/" ./cmd/centrifuge-server ./cmd/melody-server ./cmd/floor-server)
if [ -n "${BASE:-}" ]; then
  base_name="realtime@$(cd "$root" && git rev-parse --short "$BASE")"
  mkdir -p "$WORK/base-src" "$WORK/base"
  (cd "$root" && git archive "$BASE") | tar -x -C "$WORK/base-src"
  (cd "$WORK/base-src" && go build -o "$WORK/base/" ./cmd/realtime-server)
  SERVERS="$SERVERS $base_name"
fi

pin_server=() pin_bench=()
if [ "$PIN" = 1 ]; then pin_server=(taskset -c 1) pin_bench=(taskset -c 0); fi

# Scenarios: name, then the bench's flags. Every server runs on its
# defaults.
scenarios=(
  "window-1000|-scenario fanout -mode window -members 1000 -window 64 -duration $DURATION"
  "window-5000|-scenario fanout -mode window -members 5000 -window 64 -duration $DURATION"
  "rooms|-scenario rooms -rooms 200 -members 10 -count 20"
  "rooms-sustained|-scenario rooms -rooms 200 -members 10 -count 100"
  "burst|-scenario fanout -mode burst -members 1000 -burst 2000"
  "paced|-scenario fanout -mode paced -members 1000 -rate 20 -duration $DURATION"
  "idle|-scenario idle -conns 10000"
  "connect|-scenario connect -connects 5000 -parallel 32 -members 10 -duration $DURATION"
)

port_of() {
  case "$1" in realtime) echo "$PORT" ;; centrifuge) echo $((PORT + 1)) ;; melody) echo $((PORT + 2)) ;; realtime@*) echo $((PORT + 3)) ;; floor) echo $((PORT + 4)) ;; esac
}

# protocol_of NAME: the -server realtime-bench speaks to it (the floor and
# an earlier build speak realtime's).
protocol_of() {
  case "$1" in centrifuge | melody) echo "$1" ;; *) echo realtime ;; esac
}

# url_of NAME: the WebSocket URL it serves.
url_of() {
  case "$1" in centrifuge) echo "ws://127.0.0.1:$(port_of "$1")/connection/websocket" ;; *) echo "ws://127.0.0.1:$(port_of "$1")/ws" ;; esac
}

# wait_port_free PORT: a stopped server's port must be free before the next
# one starts, or the bench would load the wrong process.
wait_port_free() {
  for _ in $(seq 100); do
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  say "port $1 is still in use"; return 1
}

# wait_quiet: wait until the CPUs are QUIET percent idle over half a
# second, or 10 s have passed, so that each run starts on a quiet machine.
wait_quiet() {
  [ "$QUIET" -gt 0 ] || return 0
  local a b idle total i
  for _ in $(seq 20); do
    read -ra a < <(grep '^cpu ' /proc/stat)
    sleep 0.5
    read -ra b < <(grep '^cpu ' /proc/stat)
    idle=$(( (b[4] + b[5]) - (a[4] + a[5]) ))
    total=0
    for i in 1 2 3 4 5 6 7 8; do total=$(( total + b[i] - a[i] )); done
    if [ "$total" -gt 0 ] && [ $(( 100 * idle / total )) -ge "$QUIET" ]; then return 0; fi
  done
  say "-- the machine did not become $QUIET% idle within 10 s; running anyway"
}

server_pid=""
start_server() { # start_server NAME SCENARIO LOG
  local name=$1 scenario=$2 log=$3 port
  port=$(port_of "$name")
  wait_port_free "$port"
  case "$name" in
  realtime) "${pin_server[@]}" "$WORK/realtime-server" -addr "127.0.0.1:$port" -store "$STORE" -adapter "$ADAPTER" >"$log" 2>&1 & ;;
  centrifuge) "${pin_server[@]}" "$WORK/centrifuge-server" -addr "127.0.0.1:$port" >"$log" 2>&1 & ;;
  melody) "${pin_server[@]}" "$WORK/melody-server" -addr "127.0.0.1:$port" >"$log" 2>&1 & ;;
  floor) "${pin_server[@]}" "$WORK/floor-server" -addr "127.0.0.1:$port" >"$log" 2>&1 & ;;
  realtime@*) "${pin_server[@]}" "$WORK/base/realtime-server" -addr "127.0.0.1:$port" -store "$STORE" -adapter "$ADAPTER" >"$log" 2>&1 & ;;
  esac
  server_pid=$!
}

stop_server() {
  kill -TERM "$server_pid" 2>/dev/null || true
  wait "$server_pid" 2>/dev/null || true
  server_pid=""
}
trap 'if [ -n "$server_pid" ]; then kill -KILL "$server_pid" 2>/dev/null || true; fi' EXIT

say "== $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //'), $(go version)"
say "== load before: $(uptime)"
started=$(date +%s) began=$(date -u '+%Y-%m-%d %H:%M')
loads="before: $(uptime | sed 's/.*load average: //')"
for rep in $(seq "$REPS"); do
  for entry in "${scenarios[@]}"; do
    scenario=${entry%%|*} flags=${entry#*|}
    if [ -n "$ONLY" ] && [[ "$scenario" != *"$ONLY"* ]]; then continue; fi
    for name in $SERVERS; do
      # The floor answers a connection and its join, and nothing more.
      if [ "$name" = floor ] && [ "$scenario" != connect ] && [ "$scenario" != idle ]; then continue; fi
      log="$WORK/logs/$rep-$scenario-$name"
      wait_quiet
      start_server "$name" "$scenario" "$log.server"
      # shellcheck disable=SC2086 # flags is a list of words
      if ! "${pin_bench[@]}" "$WORK/realtime-bench" -server "$(protocol_of "$name")" -name "$name" -url "$(url_of "$name")" -pid "$server_pid" -label "rep=$rep" -json "$results" $flags ${BENCH_FLAGS:-} 2>"$log.bench"; then
        say "-- $name $scenario (rep $rep) failed: $(tail -n 1 "$log.bench")"
      fi
      stop_server
    done
  done
  say "== rep $rep done after $(($(date +%s) - started)) s; load: $(uptime)"
  loads="$loads; after rep $rep: $(uptime | sed 's/.*load average: //')"
done

echo
echo "Medians of $REPS runs; store $STORE, adapter $ADAPTER; results in $results"
echo
"$WORK/realtime-bench" -table "$results"

if [ "${WRITE:-0}" = 1 ]; then
  block="$WORK/results.md"
  commit=$(cd "$root" && git rev-parse --short HEAD 2>/dev/null || echo unknown)
  # BENCHMARKS.md itself does not count: writing it is the point.
  dirty=$(cd "$root" && git status --porcelain -- . ':!BENCHMARKS.md' 2>/dev/null | grep -qv '^??' && echo ", with uncommitted changes" || true)
  {
    echo "<!-- results:begin: WRITE=1 bench/peers/run.sh writes this block -->"
    echo
    echo "Medians of $REPS runs each, with the lowest and highest in parentheses, measured"
    echo "$began to $(date -u '+%H:%M') UTC at commit \`$commit\`$dirty by"
    echo
    echo '```sh'
    echo "WRITE=1 REPS=$REPS DURATION=$DURATION STORE=$STORE ADAPTER=$ADAPTER PIN=$PIN QUIET=$QUIET${ONLY:+ ONLY=$ONLY}${BASE:+ BASE=$BASE}${BENCH_FLAGS:+ BENCH_FLAGS='$BENCH_FLAGS'} SERVERS='${SERVERS% realtime@*}' bench/peers/run.sh"
    echo '```'
    echo
    "$WORK/realtime-bench" -table "$results"
    echo
    echo "**The machine**: \`nproc\` $(nproc); CPU \"$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ //')\";"
    echo "$(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo); $(uname -s); $(go version | cut -d' ' -f3-). Servers and load generator share"
    echo "the cores$([ "$PIN" = 1 ] && echo " (pinned: servers on CPU 1, the load generator on CPU 0)")."
    echo "**The load average** (1, 5, 15 minutes): $loads."
    echo
    echo "<!-- results:end -->"
  } >"$block"
  doc="$root/BENCHMARKS.md"
  if ! grep -q '<!-- results:begin' "$doc" || ! grep -q '<!-- results:end -->' "$doc"; then
    say "BENCHMARKS.md has no results:begin and results:end marks; the block is in $block"
    exit 1
  fi
  awk -v block="$block" '
    BEGIN { while ((getline line < block) > 0) text = text line "\n" }
    /<!-- results:begin/ { printf "%s", text; skip = 1; next }
    /<!-- results:end -->/ { skip = 0; next }
    !skip' "$doc" >"$doc.new"
  mv "$doc.new" "$doc"
  say "== wrote the results into $doc"
fi
