# Peer: floor (this repository), installed as impls/floor/impl.sh by
# tools/peers, which builds the coreio_echo_floor program (CMake target,
# Release) and exports its path as COREIO_ECHO_FLOOR_BIN. Source:
# bench/peers/echo_floor.cpp: the least CPU an echo server can spend per round
# trip (one recv and one send, nothing else), to read the rest of the machine's
# cost off the echo rounds.

IMPL_WORKLOADS="echo"
IMPL_THREADS="$THREADS"

impl_build() {
  if [ -z "${COREIO_ECHO_FLOOR_BIN:-}" ] || [ ! -x "$COREIO_ECHO_FLOOR_BIN" ]; then
    echo "floor: COREIO_ECHO_FLOOR_BIN is not an executable (run the harness through tools/peers)" >&2
    return 1
  fi
}

impl_version() { echo "epoll, one recv and one send per round trip"; }

impl_serve() {
  case $1 in
    echo) exec "$COREIO_ECHO_FLOOR_BIN" --threads "$THREADS" "$2" ;;
  esac
}
