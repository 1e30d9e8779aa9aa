#!/usr/bin/env bash
# Files of any size, end to end: a large submission uploaded through a relay, scored by a plugin that reads its
# size, and downloaded by its seeker, with the broker's peak memory (VmHWM) measured throughout.
#
#   swift build -c release && deploy/bench-files.sh [SIZE_MB]     (default 2048: 2 GiB)
#
# Runs a broker (--insecure, loopback, SQLite), one evaluator and one relay in a temporary directory (removed at
# the end, or kept with PUMASI_BENCH_KEEP=1), on ephemeral ports; stops each process by its PID. Needs
# ~3 × SIZE_MB of free disk in $TMPDIR (the file, the relay's outbox copy while it uploads, the broker's blob,
# the download).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
. "$here/lib.sh"
size_mb=${1:-2048}
bin=${PUMASI_BIN:-$(swift build --package-path "$root" -c release --show-bin-path)}
[ -x "$bin/pumasi-broker" ] || { echo "build first: swift build -c release" >&2; exit 1; }
dir=$(mktemp -d "${TMPDIR:-/tmp}/pumasi-bench-files.XXXXXX")
pids=()
cleanup() {
    pumasi_stop "${pids[@]}" 2>/dev/null || true
    [ "${PUMASI_BENCH_KEEP:-0}" = 1 ] || rm -rf "$dir"
}
trap cleanup EXIT
now() { date +%s.%N; }
rate() { awk -v b="$1" -v s="$2" 'BEGIN { printf "%.1f s, %.0f MB/s", s, b / 1e6 / s }'; }
hwm() { awk '/VmHWM/ { printf "%.0f MiB", $2 / 1024 }' "/proc/$1/status"; }

echo "==> writing a ${size_mb} MiB file of random bytes"
head -c "$((size_mb << 20))" /dev/urandom >"$dir/big.bin"
bytes=$(stat -c %s "$dir/big.bin")

"$bin/pumasi-broker" --insecure --data-dir "$dir/broker" --router 'tcp://127.0.0.1:*' --pub 'tcp://127.0.0.1:*' \
    --log-level warning >"$dir/broker.log" 2>&1 &
broker=$!
pids+=("$broker")
pumasi_wait_for_broker "$dir/broker"
cat >"$dir/size" <<'PLUGIN'
#!/bin/sh
echo "{\"score\": $(wc -c < "$1")}"
PLUGIN
chmod +x "$dir/size"
"$bin/pumasi" evaluate --broker "$router" --cache "$dir/cache" --no-builtins --plugin "size=$dir/size" \
    --log-level warning >"$dir/evaluator.log" 2>&1 &
evaluator=$!
pids+=("$evaluator")
relay_endpoint="ipc://$dir/relay.ipc"
"$bin/pumasi" relay --broker "$router" --pub "$pub" --listen "$relay_endpoint" --outbox "$dir/outbox.sqlite3" \
    --log-level warning >"$dir/relay.out" 2>"$dir/relay.log" &
relay=$!
pids+=("$relay")
cat >"$dir/challenge.json" <<'SPEC'
{"title": "Large files", "description": "Submit anything; the score is its size.", "deadline": "+2h",
 "award": {"amount": 1, "currency": "USD"}, "scorer": {"plugin": "size"}, "timeLimitSeconds": 120,
 "rules": {"maxBytes": 4294967296}}
SPEC
export PUMASI_BROKER=$router
challenge=$("$bin/pumasi" post "$dir/challenge.json" --json | sed -nE 's/.*"id" : "(ch_[^"]+)".*/\1/p' | head -n 1)
[ -n "$challenge" ] || { echo "could not post the challenge" >&2; exit 1; }

echo "==> submitting through the relay (hashing, then uploading in chunks)"
t0=$(now)
"$bin/pumasi" submit "$challenge" "$dir/big.bin" --broker "$relay_endpoint" --solver ada >"$dir/submit.out" 2>"$dir/submit.err"
t1=$(now)
submission=""
for _ in $(seq 1 6000); do
    submission=$("$bin/pumasi" outbox --broker "$relay_endpoint" --json | sed -nE 's/.*"submission" : "(sub_[^"]+)".*/\1/p' | head -n 1)
    [ -n "$submission" ] && break
    sleep 0.1
done
t2=$(now)
[ -n "$submission" ] || { echo "the relay did not deliver the submission" >&2; cat "$dir/relay.log" >&2; exit 1; }
"$bin/pumasi" status "$submission" --wait --json >"$dir/status.json"
t3=$(now)
score=$(sed -nE 's/.*"score" : ([0-9.e+]+).*/\1/p' "$dir/status.json" | head -n 1)
echo "==> downloading it again, as its seeker would"
"$bin/pumasi" download "$submission" -o "$dir/copy.bin" 2>"$dir/download.err" >/dev/null
t4=$(now)
cmp -s "$dir/big.bin" "$dir/copy.bin" && same=yes || same=NO

echo
echo "file            $bytes bytes ($size_mb MiB), sha256 $(sha256sum "$dir/big.bin" | cut -c1-12)"
echo "client → relay  $(rate "$bytes" "$(echo "$t1 - $t0" | bc)") (hash + upload to the relay's outbox)"
echo "relay → broker  $(rate "$bytes" "$(echo "$t2 - $t1" | bc)") (until the relay's outbox shows it delivered)"
echo "scored          $(echo "$t3 - $t2" | bc | xargs printf '%.1f') s after delivery (evaluator fetches, plugin reads): score $score"
echo "download        $(rate "$bytes" "$(echo "$t4 - $t3" | bc)"), identical: $same"
echo "broker VmHWM    $(hwm "$broker")  (peak resident memory of the broker process, whole run)"
echo "relay VmHWM     $(hwm "$relay"), evaluator VmHWM $(hwm "$evaluator")"
[ "$same" = yes ] && [ "${score%.*}" = "$bytes" ]
