#!/usr/bin/env bash
# A certificate authority for trying gwo's TLS, or for a lab without a CA of its own:
#   deploy/make-test-ca.sh DIR [SERVER_NAME...]
# writes into DIR (mode 0700):
#   ca.pem, ca.key           the CA (keep ca.key away from the machines)
#   server.pem, server.key   the coordinator's certificate, valid for 127.0.0.1, ::1,
#                            localhost and each SERVER_NAME (a DNS name or an IP address)
#   worker.pem, worker.key   a client certificate for gwo-worker (mutual TLS)
# Then: gwo-coordinator --tls_cert DIR/server.pem --tls_key DIR/server.key
#         [--tls_client_ca DIR/ca.pem]
#       gwoctl --tls_ca DIR/ca.pem ...   (or GWO_TLS_CA=DIR/ca.pem)
#       gwo-worker --tls_ca DIR/ca.pem [--tls_cert DIR/worker.pem --tls_key DIR/worker.key]
# Needs openssl (Debian's package of that name). Certificates last 825 days.
set -euo pipefail
[[ $# -ge 1 ]] || { echo "usage: $0 DIR [SERVER_NAME...]" >&2; exit 2; }
dir=$1
shift
mkdir -p "$dir"
chmod 700 "$dir"
cd "$dir"
umask 077

san="IP:127.0.0.1,IP:::1,DNS:localhost"
for name in "$@"; do
  if [[ $name =~ ^[0-9.]+$ || $name == *:* ]]; then san+=",IP:$name"; else san+=",DNS:$name"; fi
done

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 825 \
  -subj "/CN=gwo test CA" -keyout ca.key -out ca.pem \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null

# issue NAME CN EXTENSIONS: NAME.key and NAME.pem signed by the CA.
issue() {
  openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -subj "/CN=$2" \
    -keyout "$1.key" -out "$1.csr" 2>/dev/null
  printf '%s\n' "$3" >"$1.ext"
  openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -days 825 \
    -extfile "$1.ext" -out "$1.pem" 2>/dev/null
  rm -f "$1.csr" "$1.ext"
}
issue server "gwo-coordinator" "subjectAltName=$san
extendedKeyUsage=serverAuth
basicConstraints=critical,CA:FALSE"
issue worker "gwo-worker" "extendedKeyUsage=clientAuth
basicConstraints=critical,CA:FALSE"
rm -f ca.srl
echo "wrote $dir: ca.pem ca.key server.pem server.key worker.pem worker.key"
