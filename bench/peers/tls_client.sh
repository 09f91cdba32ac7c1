#!/usr/bin/env bash
# bench/peers/tls_client.sh — the peers harness's http-client workload through TLS, which the
# shared harness has no variant of (none of its http-client peers is built with TLS: tokio's hyper
# 0.14 client has no TLS feature, the Asio loop is plain TCP, and the libcurl peer sets no CA, so
# it cannot trust a test certificate).
#
#   bench/peers/tls_client.sh [N] [CONC] [REPEATS]      defaults: 10000 100 3
#
# Steps: (1) a CA and a server certificate for 127.0.0.1 made with openssl in build/tls-run;
# (2) nginx started there with the harness's own config (../shared/peers/src/nginx/nginx.conf.in,
# $THREADS workers, the same 1 KiB page) plus a TLS listener (TLS 1.3, nginx's defaults);
# (3) coreio_peer's http-client run REPEATS times over https (COREIO_PEER_CA_FILE trusts the CA)
# and REPEATS times over plain http against the same nginx, each line with peak_rss_kb from GNU
# time, as run.sh adds it; (4) nginx stopped. coreio_peer must be built first (tools/peers builds
# it into build/release, or: cmake --build build/release --target coreio_peer).
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
N="${1:-10000}" CONC="${2:-100}" REPEATS="${3:-3}"
THREADS="${THREADS:-2}"
BIN="${COREIO_PEER_BIN:-$ROOT/build/release/bench/coreio_peer}"
CONF_IN="$ROOT/../shared/peers/src/nginx/nginx.conf.in"
RUN="$ROOT/build/tls-run"
PORT="${PORT:-18443}" PLAIN_PORT="${PLAIN_PORT:-18480}"

[ -x "$BIN" ] || { echo "tls_client.sh: no coreio_peer at $BIN" >&2; exit 1; }
[ -f "$CONF_IN" ] || { echo "tls_client.sh: no harness nginx config at $CONF_IN" >&2; exit 1; }
command -v nginx >/dev/null || { echo "tls_client.sh: nginx is not installed" >&2; exit 1; }

rm -rf "$RUN"
mkdir -p "$RUN/www" "$RUN/tmp"
cd "$RUN"
# The harness's page: 1024 bytes (impls/nginx/impl.sh).
{ printf '<!doctype html><html><body><p>'
  printf '%*s' 975 '' | tr ' ' 'x'
  printf '</p></body></html>\n'; } >www/page.html

openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 \
  -subj "/CN=coreio bench CA" 2>/dev/null
openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr \
  -subj "/CN=127.0.0.1" 2>/dev/null
printf 'subjectAltName=IP:127.0.0.1\n' >san.ext
openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem \
  -days 2 -extfile san.ext 2>/dev/null

sed -e "s/@PORT@/$PLAIN_PORT/" -e "s/@WORKERS@/$THREADS/" "$CONF_IN" >nginx.conf
# The TLS server block goes inside http { }: before the file's last closing brace.
tls_block="    server {\n        listen 127.0.0.1:$PORT ssl backlog=1024;\n        ssl_certificate server.pem;\n        ssl_certificate_key server.key;\n        ssl_protocols TLSv1.2 TLSv1.3;\n        root www;\n    }"
sed -i "\$s/^}\$/$tls_block\n}/" nginx.conf

nginx -p "$RUN/" -c nginx.conf -e error.log &
NGINX_PID=$!
trap 'kill "$NGINX_PID" 2>/dev/null; wait "$NGINX_PID" 2>/dev/null || true' EXIT
for _ in $(seq 50); do
  if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then break; fi
  sleep 0.1
done

run() {  # run SCHEME PORT: one line, peak_rss_kb appended
  local out rss
  out=$(COREIO_PEER_CA_FILE="$RUN/ca.pem" /usr/bin/time -f '%M' -o "$RUN/time.txt" \
    "$BIN" --threads "$THREADS" http-client "$N" "$CONC" "$1://127.0.0.1:$2/page.html")
  rss=$(tail -1 "$RUN/time.txt")
  echo "$out scheme=$1 peak_rss_kb=$rss"
}

for ((i = 1; i <= REPEATS; ++i)); do
  run https "$PORT"
  run http "$PLAIN_PORT"
done
