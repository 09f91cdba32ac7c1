# Peer: coreio (this repository), installed as impls/coreio/impl.sh by
# tools/peers, which builds the coreio_peer program (CMake target, Release)
# and exports its path as COREIO_PEER_BIN. Source: bench/peers/coreio_peer.cpp,
# running the coreio flavours of bench/workloads/.

IMPL_WORKLOADS="spawn fib skynet yield timers echo http-server http-client"
IMPL_THREADS="$THREADS"

impl_build() {
  if [ -z "${COREIO_PEER_BIN:-}" ]; then
    echo "coreio: COREIO_PEER_BIN is not set (run the harness through tools/peers)" >&2
    return 1
  fi
  if [ ! -x "$COREIO_PEER_BIN" ]; then
    echo "coreio: no executable at $COREIO_PEER_BIN (build the coreio_peer target)" >&2
    return 1
  fi
}

impl_version() { "$COREIO_PEER_BIN" --version; }

impl_run() { exec "$COREIO_PEER_BIN" --threads "$THREADS" "$@"; }

impl_serve() {
  case $1 in
    echo) exec "$COREIO_PEER_BIN" --threads "$THREADS" echo-server "$2" ;;
    http-server) exec "$COREIO_PEER_BIN" --threads "$THREADS" http-server "$2" ;;
  esac
}
