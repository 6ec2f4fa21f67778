#!/usr/bin/env bash
# Load test of `tessera serve`: builds the release binary, makes a throwaway instance in a
# temporary directory, serves it on a loopback port and runs wrk against `/_health` and then
# against an asset path with a session cookie. Prints requests per second for both, their
# ratio, p99 latencies and the server's peak resident memory (VmHWM), then stops the server.
#
# The asset is a JSON Web Token when this build has the JSON Web Token package
# (package/json-web-token/ and `tessera package install`); otherwise a page, and the output
# says which.
#
# Knobs (environment): CONNECTIONS (32), DURATION (10s), THREADS (2).
# Loopback only; every step is bounded in time.
set -euo pipefail

CONNECTIONS=${CONNECTIONS:-32}
DURATION=${DURATION:-10s}
THREADS=${THREADS:-2}

cd "$(dirname "$0")/.."

if ! command -v wrk >/dev/null; then
    echo "wrk is missing: installing it with apt-get" >&2
    if [ "$(id -u)" -eq 0 ]; then apt-get update -qq && apt-get install -y wrk >/dev/null; else sudo apt-get update -qq && sudo apt-get install -y wrk >/dev/null; fi
fi
command -v curl >/dev/null || { echo "error: curl is needed" >&2; exit 1; }

cargo build --release --quiet
bin="${CARGO_TARGET_DIR:-target}/release/tessera"

tmp=$(mktemp -d)
server_pid=""
cleanup() {
    if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
        kill -TERM "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    rm -rf "$tmp"
}
trap cleanup EXIT

export TESSERA_DATA="$tmp/data"
root_password="load-root-password"
user_password="load-user-password"
as_root=(--as root)
export TESSERA_PASSWORD="$root_password"

"$bin" init >/dev/null
TESSERA_NEW_PASSWORD="$user_password" "$bin" "${as_root[@]}" user add loader --level user >/dev/null
"$bin" "${as_root[@]}" asset create --type folder --parent / --name Bench --path bench --status live >/dev/null
"$bin" "${as_root[@]}" asset grant /bench --all-users --perm read >/dev/null

target_kind=page
target_path=/bench/page
if [ -d package/json-web-token ] && "$bin" package install --help >/dev/null 2>&1; then
    "$bin" package build package/json-web-token -o "$tmp/json-web-token.tgz" >/dev/null
    "$bin" "${as_root[@]}" package install "$tmp/json-web-token.tgz" >/dev/null
    secret=$(head -c 48 /dev/urandom | base64 | tr -d '\n/+=' | head -c 48)
    "$bin" "${as_root[@]}" asset create --type json_web_token --parent /bench --name Token --path token \
        --status live --attr "secret=$secret" --attr expiry=15m \
        --attr 'payload={"sub":"%globals_user_assetid%","name":"%globals_user_name%","aud":"%asset_url%"}' \
        >/dev/null 2>&1
    target_kind="JSON Web Token"
    target_path=/bench/token
else
    "$bin" "${as_root[@]}" asset create --type page --parent /bench --name Page --path page --status live \
        --attr 'content=<p>Hello %globals_user_name%</p>' >/dev/null
fi
unset TESSERA_PASSWORD

# The server prints `listening on http://ADDR` once bound; reading that line is the wait.
coproc SERVER { exec "$bin" serve --listen 127.0.0.1:0 2>"$tmp/server.log"; }
server_pid=$SERVER_PID
if ! read -r -t 30 line <&"${SERVER[0]}"; then
    echo "error: the server did not start; its log:" >&2
    cat "$tmp/server.log" >&2
    exit 1
fi
base=${line#listening on }

cookie=$(curl -s --max-time 10 -o /dev/null -D - \
    --data-urlencode username=loader --data-urlencode "password=$user_password" \
    "$base/_login" | tr -d '\r' | sed -n 's/^[Ss]et-[Cc]ookie: \([^;]*\).*/\1/p')
[ -n "$cookie" ] || { echo "error: logging in failed" >&2; exit 1; }
status=$(curl -s --max-time 10 -o /dev/null -w '%{http_code}' -H "Cookie: $cookie" "$base$target_path")
[ "$status" = 200 ] || { echo "error: $target_path answered $status, not 200" >&2; exit 1; }

run_wrk() {
    timeout 60 wrk -t"$THREADS" -c"$CONNECTIONS" -d"$DURATION" --latency -H "Cookie: $cookie" "$base$1"
}
# wrk prints "Requests/sec: N" and, with --latency, "99% X" where X carries its unit.
rps() { awk '/^Requests\/sec:/ {print $2}'; }
p99() { awk '$1 == "99%" {print $2}'; }

health_out=$(run_wrk /_health)
target_out=$(run_wrk "$target_path")
health_rps=$(rps <<<"$health_out")
target_rps=$(rps <<<"$target_out")
errors=$(grep -E 'Non-2xx|Socket errors' <<<"$target_out$health_out" || true)
rss_kib=$(awk '/^VmHWM:/ {print $2}' "/proc/$server_pid/status")

echo "tessera serve load test: $CONNECTIONS connections, $DURATION, $THREADS wrk threads, session cookie"
echo "target: $target_path ($target_kind)"
printf '%-22s %12s req/s   p99 %s\n' "/_health" "$health_rps" "$(p99 <<<"$health_out")"
printf '%-22s %12s req/s   p99 %s\n' "$target_path" "$target_rps" "$(p99 <<<"$target_out")"
awk -v a="$target_rps" -v b="$health_rps" 'BEGIN { printf "ratio target/health:   %.1f%%\n", 100 * a / b }'
echo "server peak RSS (VmHWM): $((rss_kib / 1024)) MiB ($rss_kib kB)"
if [ -n "$errors" ]; then
    echo "wrk reported errors:"
    echo "$errors"
fi
