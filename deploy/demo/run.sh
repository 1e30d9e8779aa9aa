#!/usr/bin/env bash
# The Pumasi demo: a broker on embedded SQLite in a temporary directory, two evaluators, a relay showing
# live announcements, and challenges as their users know them: a route scored by a plugin with a
# threshold-tier award, pump failures scored by a built-in scorer on public and private splits with a daily
# limit and a top-2 split award (on the seeker's own evaluator), and a confidential proposals challenge: by
# invitation, under an IP-transfer agreement each solver accepts, with a public clarification, scored blind by
# two human judges on a weighted scorecard through their relays. Then the close, the awards, the verified ledger,
# a report and the audit trail. Every person logs in once (a profile each, kept in the demo's own directory) and
# every command names its profile. Every process is started here and stopped here by its PID.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
. "$root/deploy/lib.sh"

pumasi_install_packages
# Release, as users run it (PUMASI_BUILD=debug for a quicker first build).
PUMASI_BUILD=${PUMASI_BUILD:-release} pumasi_build "$root"
work=$(mktemp -d "${TMPDIR:-/tmp}/pumasi-demo.XXXXXX")
# What the demo leaves behind for you to open: the seeker's report and a solver's view of the site.
out=$(mktemp -d "${TMPDIR:-/tmp}/pumasi-demo-output.XXXXXX")
pids=()
cleanup() {
    echo "==> stopping every process (SIGTERM, by PID)"
    pumasi_stop "${pids[@]}"
    rm -rf "$work"
    echo "==> the seeker's report and the site are in $out (open $out/pumps-report.html and $out/site/index.html)"
}
trap cleanup EXIT

step() { printf '\n==> %s\n' "$*"; }
keys="$work/keys"
mkdir -p "$keys"
# The profiles `pumasi login` saves live in the demo's directory, not in your ~/.config.
export XDG_CONFIG_HOME="$work/config"
# Shows a command quoted as a shell needs it, with the demo's own paths shortened as a user in the repository would
# type them.
show() { printf '$ %s\n' "$(printf '%q ' "$@")" | sed -e "s|$bin/||g" -e "s|$here/|deploy/demo/|g" -e 's/ $//'; }
# as WHO COMMAND…: runs a command with WHO's profile (--profile WHO), printing it first.
as() {
    local who=$1
    shift
    show "$@" --profile "$who"
    "$@" --profile "$who"
}
quietly_as() { local who=$1; shift; "$@" --profile "$who"; }

step "starting a broker with CURVE on (data in $work/broker)"
"$bin/pumasi-broker" --data-dir "$work/broker" --router 'tcp://127.0.0.1:*' --pub 'tcp://127.0.0.1:*' \
    --closing-notice-ms 600000 --log-level warning 2>"$work/broker.log" &
pids+=($!)
pumasi_wait_for_broker "$work/broker"
echo "broker: requests on $router, announcements on $pub"

step "everyone makes a key; the broker's operator registers each with its role"
for who in acme:seeker globex:seeker ops:admin ada:solver grace:solver linus:solver evaluator-1:evaluator \
    evaluator-2:evaluator judy:judge jules:judge; do
    "$bin/pumasi" keygen "$keys/${who%%:*}.key" >/dev/null
    "$bin/pumasi-broker" keys add --data-dir "$work/broker" --role "${who##*:}" --name "${who%%:*}" \
        "$keys/${who%%:*}.key.pub"
done
# globex brings its own compute for its pump data: an evaluator key bound to globex, for challenges that ask for it.
"$bin/pumasi" keygen "$keys/globex-eval.key" >/dev/null
"$bin/pumasi-broker" keys add --data-dir "$work/broker" --role evaluator --name globex-eval --for seeker:globex \
    "$keys/globex-eval.key.pub"

step "each logs in once: a profile with the broker, its key and their own key, checked with the broker, which
    names them"
for who in acme globex ops ada grace linus judy jules evaluator-1 evaluator-2 globex-eval; do
    login=("$bin/pumasi" login --profile "$who" --broker "$router" --broker-key "$work/broker/broker.key.pub" \
        --key "$keys/$who.key")
    show "${login[@]}"
    "${login[@]}" | sed -n 1p
done

step "starting two shared evaluators with the built-in scorers and the tour-length plugin, and globex's own"
for n in 1 2; do
    "$bin/pumasi" evaluate --profile "evaluator-$n" --plugin "tour-length=$here/plugins/tour-length" \
        --cache "$work/cache-$n" --log-level warning 2>"$work/evaluator-$n.log" &
    pids+=($!)
done
"$bin/pumasi" evaluate --profile globex-eval --cache "$work/cache-globex" --log-level warning \
    2>"$work/evaluator-globex.log" &
pids+=($!)

step "grace starts a relay with her profile: it prints every announcement as it arrives, and forwards her requests
    as hers; the relay is a profile too (no CURVE on this machine, on purpose), and needs no --solver"
relay="ipc://$work/relay.ipc"
show "$bin/pumasi" relay --profile grace --pub "$pub" --listen "$relay" --outbox "$work/relay-outbox.sqlite3"
"$bin/pumasi" relay --profile grace --pub "$pub" --listen "$relay" --outbox "$work/relay-outbox.sqlite3" \
    --log-level warning > >(sed -u 's/^/    relay | /') 2>"$work/relay.log" &
pids+=($!)
# Give the relay's subscription a moment to reach the broker, so the first announcements show live and in
# order; any it misses (the PUB/SUB slow joiner) it would recover from the broker's log a little later.
sleep 1
show "$bin/pumasi" login --profile grace-relay --broker "$relay" --insecure
"$bin/pumasi" login --profile grace-relay --broker "$relay" --insecure

step "seekers post three challenges: one scored by a plugin, one by a built-in scorer on globex's own evaluator,
    one confidential, by invitation, for human judges"
as acme "$bin/pumasi" post "$here/route/challenge.json"
as globex "$bin/pumasi" post "$here/failures/challenge.json"
as globex "$bin/pumasi" post "$here/ideas/challenge.json"
ids=$(quietly_as ada "$bin/pumasi" list --json | sed -nE 's/.*"id" : "([^"]+)".*/\1/p')
route=$(echo "$ids" | sed -n 1p)
pumps=$(echo "$ids" | sed -n 2p)
ideas=$(echo "$ids" | sed -n 3p)

step "a solver looks around"
as ada "$bin/pumasi" list
as ada "$bin/pumasi" show "$pumps"
as ada "$bin/pumasi" download "$pumps" -o "$work/downloads"

step "the proposals challenge: grace is not invited, so to her it does not exist (her relay hears nothing of it);
    ada is, and reads its summary and terms, accepts them, and then sees the details"
as grace "$bin/pumasi" show "$ideas" || true
as ada "$bin/pumasi" show "$ideas"
as ada "$bin/pumasi" download "$ideas" -o "$work/downloads" || true
as ada "$bin/pumasi" accept "$ideas" --yes
quietly_as linus "$bin/pumasi" accept "$ideas" --yes >/dev/null
as ada "$bin/pumasi" show "$ideas"

step "a question in private, answered for everyone who may see the challenge"
question=$(quietly_as ada "$bin/pumasi" ask "$ideas" "Are pumps under warranty out of scope?" --json |
    sed -nE 's/.*"id" : "(clr_[^"]+)".*/\1/p')
as ada "$bin/pumasi" ask "$ideas" "May a proposal include a supplier's quote?"
as globex "$bin/pumasi" answer "$question" "Yes: the warranty covers parts, not downtime." --public
as linus "$bin/pumasi" clarifications "$ideas"

step "linus and grace enter the pump challenge as one team: its limits are shared, and its award split between them"
as linus "$bin/pumasi" team create "$pumps" wrench
quietly_as linus "$bin/pumasi" team invite "$pumps" grace >/dev/null
as grace "$bin/pumasi" team join "$pumps" wrench

step "solvers submit (each is who their key says; one broken route; grace goes through her relay)"
as ada "$bin/pumasi" submit "$route" "$here/solutions/route-ada.txt"
as grace "$bin/pumasi" submit "$route" "$here/solutions/route-grace.txt"
broken=$(quietly_as linus "$bin/pumasi" submit "$route" "$here/solutions/route-broken.txt" --json |
    sed -nE 's/.*"submission" : "([^"]+)".*/\1/p')
as grace-relay "$bin/pumasi" submit "$pumps" "$here/solutions/pumps-grace.csv"
as ada "$bin/pumasi" submit "$pumps" "$here/solutions/pumps-ada.csv" --wait
as linus "$bin/pumasi" submit "$pumps" "$here/solutions/pumps-linus.csv" --wait
as linus "$bin/pumasi" status "$broken" --wait

step "proposals for the judged challenge"
as ada "$bin/pumasi" submit "$ideas" "$here/solutions/idea-ada.md"
as linus "$bin/pumasi" submit "$ideas" "$here/solutions/idea-linus.md"

step "two judges score them blind on the scorecard (impact counts twice), each through a relay of their own
    (they see neither solver nor submission id)"
for judge in judy jules; do
    "$bin/pumasi" relay --profile "$judge" --pub "$pub" --listen "ipc://$work/$judge.ipc" \
        --outbox "$work/$judge-outbox.sqlite3" --topic judging. --log-level warning >"$work/$judge-relay.log" 2>&1 &
    pids+=($!)
done
sleep 0.5
for judge in judy jules; do
    "$bin/pumasi" login --profile "$judge-relay" --broker "ipc://$work/$judge.ipc" --insecure >/dev/null
done
for round in 1 2; do
    for judge in judy jules; do
        assignment=$(quietly_as "$judge-relay" "$bin/pumasi" judge next --challenge "$ideas" --judge "$judge" \
            -o "$work/$judge" --json |
            sed -nE 's/.*"assignment" : "(asg_[^"]+)".*/\1/p')
        file=$(ls "$work/$judge/$assignment"-* 2>/dev/null | head -n 1)
        if grep -q Vibration "$file"; then impact=5; feasible=4; comment="Measured, costed, and aimed at the real cause."
        elif [ "$judge" = judy ]; then impact=2; feasible=4; comment="Fast to do, but it treats the symptom."
        else impact=3; feasible=5; comment="Cheap insurance; says nothing about why pumps fail."; fi
        as "$judge-relay" "$bin/pumasi" judge score "$assignment" --criterion "impact=$impact" \
            --criterion "feasibility=$feasible" --comment "$comment" --judge "$judge"
    done
done
as globex "$bin/pumasi" leaderboard "$ideas"

step "the pumps' development phase ends; once scored, the final phase opens for its top two, each one's best
    submission carried over and scored again on this year's records"
for _ in $(seq 1 200); do
    quietly_as ada "$bin/pumasi" show "$pumps" --json | grep -q '"phase" : 2' && break
    sleep 0.1
done
for _ in $(seq 1 100); do
    [ "$(quietly_as ada "$bin/pumasi" leaderboard "$pumps" --json | grep -c '"score"')" -ge 2 ] && break
    sleep 0.1
done
as ada "$bin/pumasi" leaderboard "$pumps" --phase 1 --final
as ada "$bin/pumasi" leaderboard "$pumps"

step "limits: three pump submissions a day, per phase, shared within a team; every receipt says what is left"
as ada "$bin/pumasi" quota "$pumps"
as grace "$bin/pumasi" quota "$pumps"

step "a solver may not post or close, nor may a seeker pull a posted challenge; a stranger's key does not get in"
as ada "$bin/pumasi" close "$route" || true
as acme "$bin/pumasi" close "$route" || true
"$bin/pumasi" keygen "$keys/mallory.key" >/dev/null
mallory=("$bin/pumasi" login --profile mallory --broker "$router" --broker-key "$work/broker/broker.key.pub" \
    --key "$keys/mallory.key" --timeout 1)
show "${mallory[@]}"
"${mallory[@]}" || true

step "provisional leaderboards, computed by the broker (pumps: the public split, ties to the earliest)"
as ada "$bin/pumasi" leaderboard "$route"
as ada "$bin/pumasi" leaderboard "$pumps"
as ada "$bin/pumasi" leaderboard "$pumps" --final || true

step "a seeker may extend a deadline; deadlines only move later"
as acme "$bin/pumasi" extend "$route" +2h

step "the operator closes the challenges now (in real life their deadlines pass); awards follow once scoring drains"
as ops "$bin/pumasi" close "$route"
as ops "$bin/pumasi" close "$pumps"
as ops "$bin/pumasi" close "$ideas"
for id in "$route" "$pumps"; do
    for _ in $(seq 1 100); do
        quietly_as ada "$bin/pumasi" show "$id" --json | grep -q '"state" : "awarded"' && break
        sleep 0.1
    done
done
step "final leaderboards (pumps: the private split reshuffles it) and the awards by each challenge's policy"
as ada "$bin/pumasi" leaderboard "$pumps"
as ada "$bin/pumasi" show "$pumps"
as ada "$bin/pumasi" show "$route"

step "the judged challenge's award is the seeker's decision, with a rationale kept in the ledger"
best=$(quietly_as globex "$bin/pumasi" leaderboard "$ideas" --json | sed -nE 's/.*"submission" : "([^"]+)".*/\1/p' | head -n 1)
as globex "$bin/pumasi" award "$ideas" --pay "$best=3000" \
    --rationale "Both judges rated it highest; the vibration pilot starts next month."

step "the award ledger: hash-chained, anchored in the announcements; verify detects any edit or removal"
"$bin/pumasi-broker" ledger verify --data-dir "$work/broker"

step "a self-contained HTML report for the seeker (leaderboard, awards, a chart of the best score over time)"
as globex "$bin/pumasi" export "$pumps" --format html --output "$out/pumps-report.html"

step "a static website of the challenges as a solver sees them, for any web server (deploy/site/nginx.conf)"
as ada "$bin/pumasi" site --out "$out/site"

step "the audit trail: every state change and who made it"
"$bin/pumasi-broker" audit --data-dir "$work/broker" | grep -v key.add
sleep 0.5  # let the relay print the last announcements
