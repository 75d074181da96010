#!/usr/bin/env bash
# TLS end to end, on loopback with a CA made by deploy/make-test-ca.sh:
#  1. a coordinator with --tls_cert/--tls_key/--tls_client_ca refuses plaintext
#     clients and clients that do not trust its CA; gwoctl with --tls_ca (or
#     GWO_TLS_CA) works; a job file over 1 MiB, and a request over the transport's
#     8 MiB, are refused with the limit named;
#  2. a worker with a client certificate the CA signed registers; one without a
#     certificate, and one with a certificate of another CA, are refused;
#  3. without TLS, a non-loopback --listen is refused unless --allow_insecure_listen.
# Usage: tls_test.sh BIN_DIR SOURCE_DIR
set -uo pipefail
BIN=$1
SRC=$2
source "$SRC/tests/e2e/lib.sh"
e2e_begin gwo-tls

bash "$SRC/deploy/make-test-ca.sh" "$TMP/pki" >/dev/null || die "make-test-ca.sh failed"
bash "$SRC/deploy/make-test-ca.sh" "$TMP/rogue" >/dev/null || die "make-test-ca.sh (rogue) failed"
PKI=$TMP/pki

# wait_line FILE PATTERN: until FILE has a line matching PATTERN (20 s).
wait_line() {
  for _ in $(seq 100); do
    grep -q "$2" "$1" 2>/dev/null && return 0
    sleep 0.2
  done
  return 1
}

start_coordinator --tls_cert "$PKI/server.pem" --tls_key "$PKI/server.key" --tls_client_ca "$PKI/ca.pem" \
  --http_listen ""
echo "coordinator (TLS) at $ADDR"

# --- 1. users
"$BIN/gwoctl" list --timeout_s 5 >"$TMP/plain.out" 2>&1
check "a plaintext gwoctl is refused" test $? -ne 0
"$BIN/gwoctl" --tls_ca "$TMP/rogue/ca.pem" list --timeout_s 5 >"$TMP/rogue.out" 2>&1
check "a gwoctl that trusts another CA is refused" test $? -ne 0
check "gwoctl --tls_ca lists" "$BIN/gwoctl" --tls_ca "$PKI/ca.pem" list --timeout_s 10
check "so does GWO_TLS_CA" env GWO_TLS_CA="$PKI/ca.pem" "$BIN/gwoctl" list --timeout_s 10
"$BIN/gwoctl" --tls_ca "$TMP/missing.pem" list >"$TMP/missing.out" 2>&1
check "an unreadable CA file is named" grep -q "cannot read the TLS CA $TMP/missing.pem" "$TMP/missing.out"

# Oversized input: the spec check names its limit; the transport refuses what is larger
# than a request may be, before it reaches a handler.
{ echo "name: big"; head -c $((2 << 20)) /dev/zero | tr '\0' '#'; echo; } >"$TMP/big.yaml"
"$BIN/gwoctl" --tls_ca "$PKI/ca.pem" submit "$TMP/big.yaml" >"$TMP/big.out" 2>&1
check "a 2 MiB job file is refused by its size" grep -q "at most 1048576 are accepted" "$TMP/big.out"
{ echo "name: huge"; head -c $((9 << 20)) /dev/zero | tr '\0' '#'; echo; } >"$TMP/huge.yaml"
"$BIN/gwoctl" --tls_ca "$PKI/ca.pem" submit "$TMP/huge.yaml" >"$TMP/huge.out" 2>&1
check "a 9 MiB request is refused by the transport" grep -qi "larger than max" "$TMP/huge.out"
check "and the coordinator still serves" "$BIN/gwoctl" --tls_ca "$PKI/ca.pem" list --timeout_s 10
printf 'name: latin1\ndescription: caf\xe9 au lait\n' >"$TMP/latin1.yaml"
"$BIN/gwoctl" --tls_ca "$PKI/ca.pem" submit "$TMP/latin1.yaml" >"$TMP/latin1.out" 2>&1
check "a job file that is not UTF-8 is named by line, column and byte" \
  grep -q "latin1.yaml:2:17: not UTF-8 text at byte offset 29: byte 0x20 after 0xe9" "$TMP/latin1.out"

# --- 2. workers
start_worker good --name good --work_dir "$TMP/good" --tls_ca "$PKI/ca.pem" \
  --tls_cert "$PKI/worker.pem" --tls_key "$PKI/worker.key"
check "a worker with the CA's client certificate registers" wait_line "$TMP/good.log" "registered with"
start_worker nocert --name nocert --work_dir "$TMP/nocert" --tls_ca "$PKI/ca.pem"
check "a worker without a client certificate is refused" wait_line "$TMP/nocert.log" "cannot register"
check "saying what it needs" grep -q "workers need a TLS client certificate" "$TMP/nocert.log"
check "and the coordinator says so too" wait_line "$TMP/coordinator.log" "refused a worker stream"
start_worker rogue --name rogue --work_dir "$TMP/rogue-w" --tls_ca "$PKI/ca.pem" \
  --tls_cert "$TMP/rogue/worker.pem" --tls_key "$TMP/rogue/worker.key"
check "a worker with another CA's certificate is refused" wait_line "$TMP/rogue.log" "cannot register"
check "no refused worker ever registered" \
  bash -c "! grep -q 'registered with' '$TMP/nocert.log' '$TMP/rogue.log'"

# --- 3. plaintext beyond loopback
"$BIN/gwo-coordinator" --listen 0.0.0.0:0 --data-dir "$TMP/data2" --http_listen "" >"$TMP/open.out" 2>&1 &
open_pid=$!
PIDS+=("$open_pid")
for _ in $(seq 50); do kill -0 "$open_pid" 2>/dev/null || break; sleep 0.2; done
check "a plaintext non-loopback --listen is refused" bash -c "! kill -0 $open_pid 2>/dev/null"
check "naming the way out" grep -q "refusing to listen on 0.0.0.0:0 without TLS.*--allow_insecure_listen" "$TMP/open.out"
"$BIN/gwo-coordinator" --listen 0.0.0.0:0 --allow_insecure_listen --data-dir "$TMP/data2" --http_listen "" \
  >"$TMP/allowed.out" 2>&1 &
PIDS+=("$!")
check "--allow_insecure_listen allows it" wait_line "$TMP/allowed.out" "listening on"

[ "$failed" -ne 0 ] && e2e_logs
e2e_end
