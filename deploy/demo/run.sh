#!/usr/bin/env bash
# The Pumasi demo: a broker on embedded SQLite in a temporary directory, two evaluators, a relay showing
# live announcements, two challenges (one scored by a plugin script, one by a built-in scorer), several
# solvers' submissions, the leaderboards, the close, and the awards. Every process is started here and
# stopped here by its PID.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
. "$root/deploy/lib.sh"

pumasi_install_packages
pumasi_build "$root"
work=$(mktemp -d "${TMPDIR:-/tmp}/pumasi-demo.XXXXXX")
pids=()
cleanup() {
    echo "==> stopping every process (SIGTERM, by PID)"
    pumasi_stop "${pids[@]}"
    rm -rf "$work"
}
trap cleanup EXIT

step() { printf '\n==> %s\n' "$*"; }
run() { printf '$ %s\n' "$*" | sed "s|$bin/||g"; "$@"; }

step "starting a broker (data in $work/broker)"
"$bin/pumasi-broker" --data-dir "$work/broker" --router 'tcp://127.0.0.1:*' --pub 'tcp://127.0.0.1:*' \
    --closing-notice-ms 600000 --log-level warning 2>"$work/broker.log" &
pids+=($!)
pumasi_wait_for_broker "$work/broker"
echo "broker: requests on $router, announcements on $pub"
export PUMASI_BROKER=$router

step "starting two evaluators, each with the built-in scorers and the tour-length plugin"
for n in 1 2; do
    "$bin/pumasi" evaluate --plugin "tour-length=$here/plugins/tour-length" --cache "$work/cache-$n" \
        --log-level warning 2>"$work/evaluator-$n.log" &
    pids+=($!)
done

step "starting a relay: it prints every announcement as it arrives, and forwards local requests"
relay="ipc://$work/relay.ipc"
"$bin/pumasi" relay --pub "$pub" --listen "$relay" --outbox "$work/relay-outbox.sqlite3" --log-level warning \
    > >(sed -u 's/^/    relay | /') 2>"$work/relay.log" &
pids+=($!)
# Give the relay's subscription a moment to reach the broker, so the first announcements show live and in
# order; any it misses (the PUB/SUB slow joiner) it would recover from the broker's log a little later.
sleep 1

step "seekers post two challenges"
run "$bin/pumasi" post "$here/route/challenge.json"
run "$bin/pumasi" post "$here/failures/challenge.json"
route=$("$bin/pumasi" list --json | sed -nE 's/.*"id" : "([^"]+)".*/\1/p' | head -n 1)
pumps=$("$bin/pumasi" list --json | sed -nE 's/.*"id" : "([^"]+)".*/\1/p' | tail -n 1)

step "a solver looks around"
run "$bin/pumasi" list
run "$bin/pumasi" show "$pumps"
run "$bin/pumasi" download "$pumps" -o "$work/downloads"

step "solvers submit (ada, grace and linus; one broken route; grace goes through the relay)"
run "$bin/pumasi" submit "$route" "$here/solutions/route-ada.txt" --solver ada
run "$bin/pumasi" submit "$route" "$here/solutions/route-grace.txt" --solver grace
broken=$("$bin/pumasi" submit "$route" "$here/solutions/route-broken.txt" --solver linus --json |
    sed -nE 's/.*"submission" : "([^"]+)".*/\1/p')
run "$bin/pumasi" submit "$pumps" "$here/solutions/pumps-grace.csv" --solver grace --broker "$relay"
run "$bin/pumasi" submit "$pumps" "$here/solutions/pumps-ada.csv" --solver ada --wait
run "$bin/pumasi" submit "$pumps" "$here/solutions/pumps-linus.csv" --solver linus --wait
run "$bin/pumasi" status "$broken" --wait

step "leaderboards, computed by the broker"
run "$bin/pumasi" leaderboard "$route"
run "$bin/pumasi" leaderboard "$pumps"

step "the seekers close their challenges; awards follow once scoring drains"
run "$bin/pumasi" close "$route"
run "$bin/pumasi" close "$pumps"
for id in "$route" "$pumps"; do
    for _ in $(seq 1 100); do
        "$bin/pumasi" show "$id" --json | grep -q '"state" : "awarded"' && break
        sleep 0.1
    done
    run "$bin/pumasi" show "$id"
done
sleep 0.5  # let the relay print the last announcements
