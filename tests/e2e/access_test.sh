#!/usr/bin/env bash
# Users, projects and tokens end to end, with real processes on loopback:
#  1. the first start writes an admin and a worker token to the gwo config (0600);
#  2. an admin makes a project, a member and a viewer and a token for the member, who
#     logs in with it (stdin), into a config of their own;
#  3. the member submits to their project; to another project, with a path outside
#     the roots, or as a viewer, the submission is refused, saying why;
#  4. a revoked user token and a revoked worker token are refused; a fresh worker token
#     (--token_file) registers; a config that others may read is refused;
#  5. gwoctl audit lists who did what, allowed or not;
#  6. with every admin token lost, a restart with --new_admin_token lets the admin back in.
# Usage: access_test.sh BIN_DIR SOURCE_DIR
set -uo pipefail
BIN=$1
SRC=$2
source "$SRC/tests/e2e/lib.sh"
e2e_begin gwo-access
G=$BIN/gwoctl

wait_line() {  # wait_line FILE PATTERN (20 s)
  for _ in $(seq 100); do
    grep -q "$2" "$1" 2>/dev/null && return 0
    sleep 0.2
  done
  return 1
}

start_coordinator --http_listen ""

# --- 1. first start
check "the coordinator says where the first admin token went" grep -q "first start: created user admin" \
  "$TMP/coordinator.out"
check "the config is 0600" test "$(stat -c %a "$GWO_CONFIG")" = 600
check "gwoctl uses it without a step of its own" bash -c "'$G' whoami | grep -q '^admin: admin'"

# --- 2. users, a project, a token, login
check "project create" "$G" project create vision
check "user create (member)" "$G" user create ana --role member --projects vision
check "user create (viewer)" "$G" user create vic --role viewer --projects vision
ANA=$("$G" token create --user ana --ttl 1d --name ana-laptop 2>"$TMP/token.err")
check "token create prints only the token on stdout" bash -c "[[ '$ANA' =~ ^gwo_[0-9a-f]{16}_[0-9a-f]{64}$ ]]"
check "and says it is shown once" grep -q "shown only now" "$TMP/token.err"
VIC=$("$G" token create --user vic 2>/dev/null)
echo "$ANA" | GWO_CONFIG=$TMP/ana.json "$G" login >"$TMP/login.out" 2>&1
check "login checks the token and names its user" grep -q "logged in to $ADDR as ana: member, projects: vision" \
  "$TMP/login.out"
check "the login config is 0600" test "$(stat -c %a "$TMP/ana.json")" = 600
check "gwoctl then talks as ana" bash -c "GWO_CONFIG='$TMP/ana.json' GWO_COORDINATOR= '$G' whoami | grep -q '^ana: member'"

# --- 3. submissions
mkdir -p "$TMP/corpus" && seq 1 2000 >"$TMP/corpus/a.txt"
job() {  # job PROJECT PATH
  cat <<YAML
name: access
resources: {project: $1}
datasets: [{name: d, path: $2}]
training: {steps: 2, batch_size: 2}
model: {n_layer: 1, n_head: 1, n_embd: 8, block_size: 8}
YAML
}
job vision "$TMP/corpus" >"$TMP/ok.yaml"
job default "$TMP/corpus" >"$TMP/other.yaml"
job vision /etc >"$TMP/etc.yaml"
AS_ANA=(env GWO_CONFIG="$TMP/ana.json")
check "a member submits to their project" bash -c "$(printf '%q ' "${AS_ANA[@]}") '$G' submit '$TMP/ok.yaml' | grep -q '^submitted exp-1'"
"${AS_ANA[@]}" "$G" submit "$TMP/other.yaml" >"$TMP/other.out" 2>&1
check "another project is not theirs" grep -q 'not found: no project "default" of yours' "$TMP/other.out"
"${AS_ANA[@]}" "$G" submit "$TMP/etc.yaml" >"$TMP/etc.out" 2>&1
check "a path outside the roots is refused by file:line and key" \
  grep -q 'etc.yaml:3:.*datasets\[0\].path: "/etc" is outside the allowed roots' "$TMP/etc.out"
GWO_TOKEN=$VIC "$G" submit "$TMP/ok.yaml" >"$TMP/vic.out" 2>&1
check "a viewer may not submit" grep -q "not allowed: vic is a viewer" "$TMP/vic.out"
check "but reads the project's experiments" bash -c "GWO_TOKEN='$VIC' '$G' list | grep -q access"
"$G" project create lab >/dev/null
"$G" user create bob --projects lab >/dev/null
BOB=$("$G" token create --user bob 2>/dev/null)
GWO_TOKEN=$BOB "$G" describe exp-1 >"$TMP/bob.out" 2>&1
check "another project's experiment looks unknown" grep -q "not found: no experiment with id 1" "$TMP/bob.out"
check "and is not listed" bash -c "! GWO_TOKEN='$BOB' '$G' list | grep -q access"

# --- 4. revocation, worker tokens, config permissions
ANA_ID=$("$G" token list --user ana | awk '$3 == "ana-laptop" {print $1}')
check "token revoke" "$G" token revoke "$ANA_ID"
"${AS_ANA[@]}" "$G" whoami >"$TMP/revoked.out" 2>&1
check "a revoked token is refused at once" grep -q "does not accept your token: token ana-laptop was revoked" \
  "$TMP/revoked.out"
"$G" token create --worker --name spare >"$TMP/spare.token" 2>/dev/null
SPARE_ID=$("$G" token list | awk '$3 == "spare" {print $1}')
"$G" token revoke "$SPARE_ID" >/dev/null
start_worker revoked --name revoked --work-dir "$TMP/w1" --token_file "$TMP/spare.token"
check "a worker with a revoked worker token is refused" wait_line "$TMP/revoked.log" "cannot register.*spare was revoked"
"$G" token create --worker --name rack-2 >"$TMP/rack.token" 2>/dev/null
start_worker rack --name rack-2 --work-dir "$TMP/w2" --token_file "$TMP/rack.token"
check "a worker with a fresh worker token registers" wait_line "$TMP/rack.log" "registered with"
GWO_WORKER_TOKEN=$VIC start_worker userlike --name userlike --work-dir "$TMP/w3"
check "a user token does not open the worker stream" \
  wait_line "$TMP/userlike.log" "cannot register.*a user token cannot open the worker stream"
chmod 644 "$TMP/ana.json"
"${AS_ANA[@]}" "$G" whoami >"$TMP/perm.out" 2>&1
check "a config others may read is refused" grep -q "others may read or write it: chmod 600" "$TMP/perm.out"

# --- 5. the audit log
"$G" audit --audit_limit 200 >"$TMP/audit.out" 2>&1
check "audit: the admin made ana" grep -q "admin .*AccessService/CreateUser .*user ana .*OK" "$TMP/audit.out"
check "audit: ana submitted exp-1" grep -q "ana .*ExperimentService/SubmitExperiment .*exp-1 .*OK" "$TMP/audit.out"
check "audit: vic was refused" grep -q "vic .*ExperimentService/SubmitExperiment .*PERMISSION_DENIED" "$TMP/audit.out"
check "audit: the revocation" grep -q "admin .*AccessService/RevokeToken .*token $ANA_ID .*OK" "$TMP/audit.out"
check "audit: the worker connection" grep -q "worker:rack-2 .*WorkerService/Connect .*OK" "$TMP/audit.out"
GWO_TOKEN=$VIC "$G" audit >"$TMP/vic-audit.out" 2>&1
check "only an admin reads it" grep -q "not allowed: AccessService/ListAudit needs role admin" "$TMP/vic-audit.out"

# --- 6. every admin token lost: --new_admin_token makes one, nothing else changes
PORT=${ADDR##*:}
kill -TERM "$COORD_PID"
wait "$COORD_PID" 2>/dev/null
rm -f "$GWO_CONFIG"
E2E_COORD_PORT=$PORT start_coordinator --http_listen "" --new_admin_token
check "--new_admin_token says where the token went" grep -q "a new token of user admin for $ADDR is in $GWO_CONFIG" \
  "$TMP/coordinator.out"
check "with it the admin is back" bash -c "'$G' whoami | grep -q '^admin: admin'"
check "and the users and experiments are still there" bash -c "'$G' user list | grep -q ana && '$G' list | grep -q access"

[ "$failed" -ne 0 ] && e2e_logs
e2e_end
