#!/usr/bin/env bash
# Several hosts on one machine, and a failover to watch. Network namespaces stand for hosts, joined by a bridge in
# a namespace of its own (so nothing of this machine's own network reaches them):
#
#   db 10.77.0.10 (PostgreSQL) · broker-a 10.77.0.11 · broker-b 10.77.0.12 · eval-1 10.77.0.21 · eval-2 10.77.0.22
#   · desk 10.77.0.31 (a relay, and the seeker's and solvers' commands)
#
# Both brokers share the store in PostgreSQL; one is active. The script posts a challenge, submits, then
#   1. kills the active broker (kill -9): the standby takes over;
#   2. cuts the new active broker off the network (its link down), as a switch failure would: PostgreSQL ends its
#      silent session, the other broker (restarted meanwhile, as systemd would) takes over, and the cut one stops
#      when its own connection gives up;
#   3. heals the link and restarts the cut broker, which becomes the standby;
# and checks that every acknowledged submission was scored once, the announcements run without a gap, and the
# award ledger verifies. It prints how long each takeover took. Needs root (ip netns). Every process is stopped by
# its PID and every namespace deleted at the end.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)
. "$root/deploy/lib.sh"

[ "$(id -u)" = 0 ] || { echo "deploy/failover.sh makes network namespaces: run it as root" >&2; exit 1; }
pumasi_install_packages
for package in postgresql iproute2; do
    dpkg -s "$package" >/dev/null 2>&1 || {
        echo "==> installing $package"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$package" >/dev/null
    }
done
pumasi_build "$root"
pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
work=$(mktemp -d "${TMPDIR:-/tmp}/pumasi-failover.XXXXXX")
chmod 755 "$work"
tag=pf$$
lan=$tag-lan
declare -A address=([db]=10 [broker-a]=11 [broker-b]=12 [eval-1]=21 [eval-2]=22 [desk]=31)
declare -A pid
pids=()

cleanup() {
    local status=$?
    if [ "$status" != 0 ]; then
        for log in "$work"/*.log "$work/pg/server.log"; do
            [ -s "$log" ] && { echo "--- $log"; tail -n 8 "$log"; }
        done
    fi
    echo "==> stopping every process (by PID), PostgreSQL, and the namespaces"
    pumasi_stop "${pids[@]}" 2>/dev/null || true
    [ -d "$work/pg/data" ] && runuser -u postgres -- "$pgbin/pg_ctl" -D "$work/pg/data" -m immediate -w stop \
        >/dev/null 2>&1 || true
    for host in "${!address[@]}"; do ip netns del "$tag-$host" 2>/dev/null || true; done
    ip netns del "$lan" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

step() { printf '\n==> %s\n' "$*"; }
elapsed() { awk -v since="$since" -v now="$(date +%s.%N)" 'BEGIN { printf "%.2f", now - since }'; }
on() { local host=$1; shift; ip netns exec "$tag-$host" "$@"; }
ip4() { echo "10.77.0.${address[$1]}"; }

step "hosts: a namespace each, on one bridge"
ip netns add "$lan"
ip -n "$lan" link set lo up
ip -n "$lan" link add br0 type bridge
ip -n "$lan" link set br0 up
for host in db broker-a broker-b eval-1 eval-2 desk; do
    ip netns add "$tag-$host"
    ip link add "$tag-${address[$host]}" type veth peer name eth0 netns "$tag-$host"
    ip link set "$tag-${address[$host]}" netns "$lan"
    ip -n "$lan" link set "$tag-${address[$host]}" master br0 up
    on "$host" ip addr add "$(ip4 "$host")/24" dev eth0
    on "$host" ip link set eth0 up
    on "$host" ip link set lo up
    echo "  $host $(ip4 "$host")"
done

step "db: PostgreSQL, for the 10.77.0.0/24 hosts"
mkdir -p "$work/pg"
chown postgres "$work/pg"
runuser -u postgres -- "$pgbin/initdb" -D "$work/pg/data" -A trust -U pumasi -E UTF8 --locale=C -N >/dev/null
echo "host all all 10.77.0.0/24 trust" >>"$work/pg/data/pg_hba.conf"
on db runuser -u postgres -- "$pgbin/pg_ctl" -D "$work/pg/data" -l "$work/pg/server.log" -w \
    -o "-c listen_addresses=$(ip4 db) -c unix_socket_directories=$work/pg" start >/dev/null
store="postgresql://pumasi@$(ip4 db)/postgres"
routers="tcp://$(ip4 broker-a):5555,tcp://$(ip4 broker-b):5555"
pubs="tcp://$(ip4 broker-a):5556,tcp://$(ip4 broker-b):5556"

# start_broker HOST: a broker on HOST (started again after a failure, as systemd's Restart=on-failure would).
start_broker() {
    local host=$1
    # Not through `on`: a function in the background is a subshell, and $! would name it, not the broker.
    ip netns exec "$tag-$host" "$bin/pumasi-broker" --data-dir "$work/$host" --store "$store" --router "tcp://$(ip4 "$host"):5555" \
        --pub "tcp://$(ip4 "$host"):5556" --heartbeat-ms 500 --log-level notice 2>>"$work/$host.log" &
    pid[$host]=$!
    pids+=($!)
}
# status: which broker is active (asked from the desk host).
status() { on desk "$bin/pumasi-broker" status --store "$store" | sed 's/^/    /'; }
# wait_active HOST: until HOST's broker is the active one (at most 60 s); prints the seconds since $since.
wait_active() {
    local host=$1
    for _ in $(seq 1 600); do
        if on desk "$bin/pumasi-broker" status --store "$store" 2>/dev/null | grep -q "pid ${pid[$host]},"; then
            echo "    $host active after $(elapsed) s"
            return 0
        fi
        sleep 0.1
    done
    echo "$host did not become the active broker; see $work/$host.log" >&2
    return 1
}

step "two brokers on the one store: the first to start is active, the other waits"
start_broker broker-a
since=$(date +%s.%N)
wait_active broker-a
start_broker broker-b
sleep 1
status

step "keys: the operator registers everyone (the brokers share one broker key, kept in the store)"
mkdir -p "$work/keys"
for who in acme:seeker ops:admin ada:solver grace:solver linus:solver eval-1:evaluator eval-2:evaluator; do
    "$bin/pumasi" keygen "$work/keys/${who%%:*}.key" >/dev/null
    on desk "$bin/pumasi-broker" keys add --store "$store" --role "${who##*:}" --name "${who%%:*}" \
        "$work/keys/${who%%:*}.key.pub" | sed 's/^/    /'
done
export PUMASI_BROKER="$routers" PUMASI_BROKER_KEY="$work/broker-a/broker.key.pub"

step "two evaluator hosts and a relay, each given both brokers' endpoints"
for host in eval-1 eval-2; do
    # The brokers' heartbeat interval: an idle evaluator that beats slower than the broker expects is dropped as silent.
    ip netns exec "$tag-$host" env PUMASI_KEY="$work/keys/$host.key" "$bin/pumasi" evaluate --cache "$work/cache-$host" \
        --heartbeat-ms 500 --log-level warning 2>"$work/$host.log" &
    pids+=($!)
done
ip netns exec "$tag-desk" env PUMASI_KEY="$work/keys/grace.key" "$bin/pumasi" relay --pub "$pubs" --listen "ipc://$work/relay.ipc" \
    --outbox "$work/relay-outbox.sqlite3" --log-level warning > >(tee "$work/relay.out" | sed -u 's/^/    relay | /') \
    2>"$work/relay.log" &
pids+=($!)
sleep 1

as() { local who=$1; shift; on desk env PUMASI_KEY="$work/keys/$who.key" "$bin/pumasi" "$@"; }
submitted=()
# submit WHO FILE [OPTIONS]: a submission, retried (under one client id) until some broker acknowledges it.
submit() {
    local id
    id=$(as "$1" submit "$challenge" "$2" "${@:3}" --timeout 2 --json | sed -nE 's/.*"submission" : "([^"]+)".*/\1/p')
    [ -n "$id" ] || { echo "no receipt for $1's $2" >&2; return 1; }
    submitted+=("$1:$id")
    echo "    $1 submitted $id"
}

step "acme posts a challenge; solvers submit"
# The demo's pump data in one phase, scored by the evaluators any seeker may use (the demo's has two phases and
# globex's own evaluator).
mkdir -p "$work/pumps"
cp "$here/demo/failures/sensors.csv" "$here/demo/failures/labels.csv" "$work/pumps/"
cat >"$work/pumps/challenge.json" <<'EOF'
{
  "title": "Predict pump failures",
  "description": "From sensors.csv, predict which pumps fail within 30 days: a CSV with columns pump,failed (yes/no).",
  "deadline": "+1h",
  "award": {"amount": 10000, "currency": "EUR", "policy": {"kind": "top-n", "shares": [70, 30]}},
  "scorer": {"builtin": "csv-accuracy", "options": {"id": "pump", "target": "failed", "split": "Usage"}},
  "ranking": {"metric": "accuracy", "precision": 2},
  "rules": {"perDay": 3},
  "timeLimitSeconds": 10,
  "files": [{"path": "sensors.csv", "role": "public"}, {"path": "labels.csv", "role": "reference"}]
}
EOF
as acme post "$work/pumps/challenge.json" | sed 's/^/    /'
challenge=$(as ada list --json | sed -nE 's/.*"id" : "([^"]+)".*/\1/p' | head -n 1)
submit ada "$here/demo/solutions/pumps-ada.csv"
submit linus "$here/demo/solutions/pumps-linus.csv"

step "1. kill -9 the active broker (broker-a)"
since=$(date +%s.%N)
kill -KILL "${pid[broker-a]}"
wait "${pid[broker-a]}" 2>/dev/null || true
wait_active broker-b
submit grace "$here/demo/solutions/pumps-grace.csv"
start_broker broker-a
sleep 1
status

step "2. cut broker-b (now active) off the network; broker-a waits as the standby"
since=$(date +%s.%N)
ip -n "$lan" link set "$tag-${address[broker-b]}" down
wait_active broker-a
# The same file again on purpose: --again makes it a new submission (else it is the first one, run twice).
submit ada "$here/demo/solutions/pumps-ada.csv" --again
for _ in $(seq 1 300); do kill -0 "${pid[broker-b]}" 2>/dev/null || break; sleep 0.1; done
if kill -0 "${pid[broker-b]}" 2>/dev/null; then
    echo "broker-b still runs 30 s into the cut" >&2
    exit 1
fi
echo "    broker-b stopped by itself after $(elapsed) s: \
$(grep -E 'critical' "$work/broker-b.log" | tail -n 1 | cut -c1-110)"

step "3. heal the link; broker-b starts again, as the standby"
ip -n "$lan" link set "$tag-${address[broker-b]}" up
start_broker broker-b
sleep 1
status

step "every acknowledged submission scored exactly once, announcements without a gap, the ledger intact"
for entry in "${submitted[@]}"; do
    who=${entry%%:*} id=${entry#*:}
    state=$(as "$who" status "$id" --wait --timeout 30 --json | sed -nE 's/.*"state" : "([^"]+)".*/\1/p')
    echo "    $id ($who) $state"
    [ "$state" = scored ] || { echo "$id is $state" >&2; exit 1; }
done
query() { on desk psql -qAt "$store" -c "$1"; }
[ "$(query 'SELECT COUNT(*) FROM submissions')" = "${#submitted[@]}" ]
[ "$(query 'SELECT COUNT(*) FROM (SELECT submission_id FROM outcomes GROUP BY 1 HAVING COUNT(*) > 1) d')" = 0 ]
[ "$(query 'SELECT COUNT(*) = MAX(seq) FROM events')" = t ]
echo "    ${#submitted[@]} submissions, $(query 'SELECT COUNT(*) FROM events') announcements numbered 1 to" \
    "$(query 'SELECT MAX(seq) FROM events'), terms: $(query "SELECT string_agg(term || ' pid ' || pid, ', ' ORDER BY term) FROM broker_terms")"
as ops close "$challenge" | sed 's/^/    /'
for _ in $(seq 1 100); do as ada show "$challenge" --json | grep -q '"state" : "awarded"' && break; sleep 0.1; done
as ada leaderboard "$challenge" | sed 's/^/    /'
on desk "$bin/pumasi-broker" ledger verify --store "$store" | sed 's/^/    /'
sleep 0.5
# The relay showed every announcement once, in order, across the three brokers' terms (what it missed live, it
# read back from the log).
expected=$(seq 1 "$(query 'SELECT MAX(seq) FROM events')" | tr '\n' ' ')
for _ in $(seq 1 100); do
    shown=$(sed -nE 's/^#([0-9]+) .*/\1/p' "$work/relay.out" | tr '\n' ' ')
    [ "$shown" = "$expected" ] && break
    sleep 0.1
done
echo "    the relay showed announcements $shown"
[ "$shown" = "$expected" ] || { echo "the relay showed $shown, not $expected" >&2; exit 1; }
