#!/usr/bin/env bash
# bench/peers/cpu_cost.sh — CPU time per operation of the peers' servers and HTTP clients, in
# interleaved rounds; run through `tools/peers --cpu` (which builds coreio_peer and prepares the
# harness copy this script reads).
#
#   tools/peers --cpu [-r ROUNDS] [-i IMPLS] [-w WORKLOAD]
#     WORKLOAD  http-server (wrk -t1 -c$WRK_CONNS, default 50), echo (echo_load --conns
#               $ECHO_CONNS, default 50) or http-client (each impl's client, 100,000 GETs of
#               page.html, 100 in flight, against the harness's nginx)
#     IMPLS     comma-separated impls of the harness (default coreio,asio); ROUNDS default 3
#     SECONDS_PER_RUN  load duration of a server run (default 4)
#
# Prints one line per run: the rate, then the measured process's user and system CPU per
# operation in microseconds (utime and stime from /proc/PID/stat, summed over the server and its
# child processes, across the load; for http-client the client's whole run from GNU time), and
# its context switches per operation. On a machine whose load generator shares the server's
# CPUs the rate follows how the kernel splits the CPUs between the two; CPU per operation says
# how much of them the measured side needs. Then the medians per impl.
set -euo pipefail

: "${PEERS_DIR:?run through tools/peers --cpu}" "${BUILD_DIR:?run through tools/peers --cpu}"
export PEERS_DIR BUILD_DIR
ROUNDS=3
IMPLS=coreio,asio
WORKLOAD=http-server
while [ $# -gt 0 ]; do
  case $1 in
    -r | --rounds) ROUNDS=$2; shift 2 ;;
    -i | --impls) IMPLS=$2; shift 2 ;;
    -w | --workloads) WORKLOAD=$2; shift 2 ;;
    *) echo "cpu_cost: unknown option $1" >&2; exit 2 ;;
  esac
done
SECS=${SECONDS_PER_RUN:-4}
export THREADS=${THREADS:-2}
TICK=$(getconf CLK_TCK)
ECHO_LOAD="$BUILD_DIR/loadgen/echo_load"
IFS=, read -ra list <<<"$IMPLS"

in_impl() { # in_impl IMPL FUNCTION ARGS...: runs an impl.sh function in a subshell
  (cd "$PEERS_DIR" && . "$PEERS_DIR/impls/$1/impl.sh" && "${@:2}")
}

for i in "${list[@]}"; do in_impl "$i" impl_build >&2; done
if [ "$WORKLOAD" = echo ] && [ ! -x "$ECHO_LOAD" ]; then
  mkdir -p "$BUILD_DIR/loadgen"
  "${CXX:-g++}" -std=c++20 -O2 -pthread -o "$ECHO_LOAD" "$PEERS_DIR/src/loadgen/echo_load.cpp"
fi

listening() { ss -ltn | grep -q ":$1 "; }

# A port below the kernel's ephemeral range (32768-60999 by default): a listener cannot bind a
# port that a load generator's closed connection still holds in TIME_WAIT (EADDRINUSE), and
# after a -c1000 run thousands of ephemeral ports are held.
free_port() { echo $((20000 + RANDOM % 12000)); }

start() { # start IMPL WORKLOAD PORT -> PID
  # One subshell level: impl_serve execs, so $! is the server itself.
  (cd "$PEERS_DIR" && . "$PEERS_DIR/impls/$1/impl.sh" && impl_serve "$2" "$3") \
    >"$BUILD_DIR/cpu-$1-$2.log" 2>&1 &
  PID=$!
  local k
  for ((k = 0; k < 100; k++)); do
    listening "$3" && return 0
    kill -0 "$PID" 2>/dev/null || break
    sleep 0.1
  done
  echo "cpu_cost: $1 did not listen on $3 (see $BUILD_DIR/cpu-$1-$2.log)" >&2
  stop "$PID"
  return 1
}

stop() {
  kill -TERM "$1" 2>/dev/null || true
  wait "$1" 2>/dev/null || true
}

ticks() { # ticks PID: "utime stime switches" of PID and its children
  local p u=0 s=0 c=0 f
  for p in "$1" $(pgrep -P "$1" 2>/dev/null); do
    read -r -a f < <(sed 's/.*) //' "/proc/$p/stat" 2>/dev/null) || continue
    u=$((u + f[11])); s=$((s + f[12]))
    c=$((c + $(cat /proc/"$p"/task/*/status 2>/dev/null | awk '/ctxt_switches/{n+=$2}END{print n+0}')))
  done
  echo "$u $s $c"
}

report() { # report IMPL RATE OPS USER SYS SWITCHES (USER and SYS in units of 1/$5 s)
  awk -v i="$1" -v r="$2" -v n="$3" -v u="$4" -v s="$5" -v d="$6" -v c="$7" 'BEGIN {
    u /= d; s /= d
    printf "%-8s rate %9.0f/s  user %6.2f us/op  sys %6.2f us/op  switches %.3f/op\n",
           i, r, u * 1e6 / n, s * 1e6 / n, c / n }' | tee -a "$OUT"
}

serve_run() { # serve_run IMPL: one server run under load
  local port out n rate a b
  port=$(free_port)
  start "$1" "$WORKLOAD" "$port" || return 0
  read -r -a a < <(ticks "$PID")
  if [ "$WORKLOAD" = http-server ]; then
    out=$(wrk -t1 -c"${WRK_CONNS:-50}" -d"${SECS}s" "http://127.0.0.1:$port/hello.txt" 2>&1)
    n=$(awk '/requests in/{print $1}' <<<"$out")
    rate=$(awk '/Requests\/sec/{print $2}' <<<"$out")
  else
    out=$("$ECHO_LOAD" --port "$port" --conns "${ECHO_CONNS:-50}" --seconds "$SECS" --warmup 0 \
      --size 64 --impl "$1" --impl-threads "$THREADS" 2>&1)
    n=$(grep -o ' n=[0-9]*' <<<"$out" | cut -d= -f2)
    rate=$(grep -o 'rate=[0-9.]*' <<<"$out" | cut -d= -f2)
  fi
  read -r -a b < <(ticks "$PID")
  stop "$PID"
  if [ -z "${n:-}" ] || [ "$n" = 0 ]; then
    echo "cpu_cost: $1: the load generator failed: $(tail -2 <<<"$out")" >&2
    return 0
  fi
  report "$1" "$rate" "$n" "$((b[0] - a[0]))" "$((b[1] - a[1]))" "$TICK" "$((b[2] - a[2]))"
}

client_run() { # client_run IMPL: one client run against the harness's nginx on NGINX_PORT
  local n=100000 out rate t
  t=$(mktemp)
  # GNU time measures the impl's program: impl_run execs it in place of the bash it starts.
  out=$(cd "$PEERS_DIR" && /usr/bin/time -o "$t" -f "%U %S %w %c" \
    bash -c '. "$PEERS_DIR/impls/$0/impl.sh" && impl_run http-client "$@"' \
    "$1" "$n" 100 "http://127.0.0.1:$NGINX_PORT/page.html" 2>&1) || true
  rate=$(grep -o 'rate=[0-9.]*' <<<"$out" | head -1 | cut -d= -f2)
  read -r u s w c <"$t"
  rm -f "$t"
  if [ -z "${rate:-}" ]; then
    echo "cpu_cost: $1: the client failed: $(tail -2 <<<"$out")" >&2
    return 0
  fi
  report "$1" "$rate" "$n" "$u" "$s" 1 "$((w + c))"
}

OUT=$(mktemp)
trap 'rm -f "$OUT"; [ -n "${NGINX_PID:-}" ] && stop "$NGINX_PID"' EXIT
if [ "$WORKLOAD" = http-client ]; then
  NGINX_PORT=$(free_port)
  start nginx http-server "$NGINX_PORT"
  NGINX_PID=$PID
fi
for ((k = 0; k < ROUNDS; k++)); do
  echo "# round $((k + 1))/$ROUNDS ($WORKLOAD, $THREADS threads)" >&2
  for ((j = 0; j < ${#list[@]}; j++)); do
    impl=${list[$(((k + j) % ${#list[@]}))]}
    if [ "$WORKLOAD" = http-client ]; then client_run "$impl"; else serve_run "$impl"; fi
  done
done
echo "# medians over $ROUNDS rounds: rate, user us/op, sys us/op"
for i in "${list[@]}"; do
  awk -v i="$i" '$1 == i { r[++n] = $3; u[n] = $5; s[n] = $8 }
    function med(a, n,   k, j, t) {
      for (k = 2; k <= n; k++) for (j = k; j > 1 && a[j - 1] > a[j]; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
      return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }
    END { if (n) printf "%-8s %9.0f/s  user %.2f  sys %.2f  (%d runs)\n", i, med(r, n), med(u, n), med(s, n), n }' "$OUT"
done
