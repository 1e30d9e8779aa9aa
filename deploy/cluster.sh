#!/usr/bin/env bash
# A local multi-process Pumasi cluster: one broker, N evaluators, one relay.
#
#   deploy/cluster.sh start [N]   start (N evaluators, default 2); prints the endpoints
#   deploy/cluster.sh status      which processes are alive
#   deploy/cluster.sh stop        SIGTERM each process by the PID recorded at start, wait for it
#
# State lives in $PUMASI_CLUSTER_DIR (default ./.pumasi-cluster): the broker's data, logs, and pids.
# Ports: $PUMASI_ROUTER (default tcp://127.0.0.1:5555) and $PUMASI_PUB (tcp://127.0.0.1:5556); the relay
# listens on ipc://$PUMASI_CLUSTER_DIR/relay.ipc. CURVE is on: keys are made and registered in
# $PUMASI_CLUSTER_DIR/keys for the evaluators, a seeker ("seeker") and a solver ("solver", also the relay's).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
. "$here/lib.sh"
dir=${PUMASI_CLUSTER_DIR:-$PWD/.pumasi-cluster}
pids="$dir/pids"

start() {
    local count=${1:-2}
    if [ -s "$pids" ]; then echo "already started (see $pids); stop it first" >&2; exit 1; fi
    pumasi_install_packages
    pumasi_build "$root"
    mkdir -p "$dir/logs"
    "$bin/pumasi-broker" --data-dir "$dir/broker" --router "${PUMASI_ROUTER:-tcp://127.0.0.1:5555}" \
        --pub "${PUMASI_PUB:-tcp://127.0.0.1:5556}" >>"$dir/logs/broker.log" 2>&1 &
    echo "broker $!" >>"$pids"
    pumasi_wait_for_broker "$dir/broker"
    export PUMASI_BROKER_KEY="$dir/broker/broker.key.pub"
    mkdir -p "$dir/keys"
    for who in seeker:seeker solver:solver $(seq -f "evaluator-%g:evaluator" 1 "$count"); do
        name=${who%%:*}
        [ -f "$dir/keys/$name.key" ] && continue
        "$bin/pumasi" keygen "$dir/keys/$name.key" >/dev/null
        "$bin/pumasi-broker" keys add --data-dir "$dir/broker" --role "${who##*:}" --name "$name" \
            "$dir/keys/$name.key.pub" >/dev/null
    done
    for n in $(seq 1 "$count"); do
        PUMASI_KEY="$dir/keys/evaluator-$n.key" "$bin/pumasi" evaluate --broker "$router" --cache "$dir/cache-$n" \
            --plugin "tour-length=$here/demo/plugins/tour-length" >>"$dir/logs/evaluator-$n.log" 2>&1 &
        echo "evaluator-$n $!" >>"$pids"
    done
    PUMASI_KEY="$dir/keys/solver.key" "$bin/pumasi" relay --broker "$router" --pub "$pub" --listen "ipc://$dir/relay.ipc" --outbox "$dir/relay-outbox.sqlite3" \
        >>"$dir/logs/relay.out" 2>>"$dir/logs/relay.log" &
    echo "relay $!" >>"$pids"
    echo "broker   $router (announcements $pub)"
    echo "relay    ipc://$dir/relay.ipc  (announcements in $dir/logs/relay.out)"
    echo "export PUMASI_BROKER=$router PUMASI_BROKER_KEY=$PUMASI_BROKER_KEY PUMASI_KEY=$dir/keys/seeker.key"
}

status() {
    [ -s "$pids" ] || { echo "not started"; return 0; }
    while read -r name pid; do
        if kill -0 "$pid" 2>/dev/null; then echo "$name $pid running"; else echo "$name $pid gone"; fi
    done <"$pids"
}

stop() {
    [ -s "$pids" ] || { echo "not started"; return 0; }
    # Workers first, then the broker, so that evaluators hand back their leases to a live broker.
    pumasi_stop $(tac "$pids" | awk '{print $2}')
    rm -f "$pids"
    echo "stopped"
}

case "${1:-}" in
start) start "${2:-2}" ;;
status) status ;;
stop) stop ;;
*) echo "usage: $0 start [N] | status | stop" >&2; exit 64 ;;
esac
