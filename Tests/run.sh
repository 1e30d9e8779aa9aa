#!/usr/bin/env bash
# The test suite on a fresh Debian machine: installs what it needs (libzmq, SQLite, libpq, libsodium, zlib, libyaml,
# PostgreSQL, Chromium, nginx; runc and busybox for the container tests, mmdebstrap for their image; Debian's numpy,
# SciPy and scikit-learn, for Codabench's iris program on a host whose numpy is 1.24), builds the pinned Python
# environment the Codabench fixtures need (deploy/images/build-python-legacy.sh, from Debian and PyPI, kept between
# runs), starts a throwaway PostgreSQL cluster (initdb in a temporary directory, pg_ctl on a free loopback port), runs
# the whole suite twice, on SQLite and on PostgreSQL, and stops the cluster. Arguments go to both `swift test` runs.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(libzmq3-dev libsqlite3-dev libpq-dev libsodium-dev zlib1g-dev libyaml-dev postgresql chromium nginx runc
    busybox-static mmdebstrap python3-numpy python3-scipy python3-sklearn python3-psutil)
missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if ((${#missing[@]})); then
    sudo=()
    [[ $(id -u) == 0 ]] || sudo=(sudo)
    echo "installing ${missing[*]}" >&2
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# The pinned environment Codabench's fixtures were written for: built once per machine (about 40 s and 600 MB from
# Debian's archive and PyPI), then reused.
image=${PUMASI_TEST_LEGACY_IMAGE:-/var/cache/pumasi-images/python-legacy}
if [[ $(id -u) == 0 ]]; then
    deploy/images/build-python-legacy.sh "$image" 2>&1 | tail -n 2 >&2
    export PUMASI_TEST_LEGACY_IMAGE="$image"
else
    echo "not root: the container tests and the Codabench fixtures in their environment are skipped" >&2
fi

# A throwaway cluster. initdb refuses to run as root: as root, it belongs to the postgres user Debian's package made.
pgbin=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)
scratch=$(mktemp -d "${TMPDIR:-/tmp}/pumasi-pg.XXXXXX")
as=()
if [[ $(id -u) == 0 ]]; then
    chown postgres "$scratch"
    as=(runuser -u postgres --)
fi
stop_cluster() {
    "${as[@]}" "$pgbin/pg_ctl" -D "$scratch/data" -m fast -w stop >/dev/null 2>&1 || true
    rm -rf "$scratch"
}
trap stop_cluster EXIT
"${as[@]}" "$pgbin/initdb" -D "$scratch/data" -A trust -U pumasi -E UTF8 --locale=C >"$scratch/initdb.log" 2>&1 \
    || { cat "$scratch/initdb.log" >&2; exit 1; }
port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"${as[@]}" "$pgbin/pg_ctl" -D "$scratch/data" -l "$scratch/server.log" -w \
    -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories=$scratch -c max_connections=200" \
    start >/dev/null || { cat "$scratch/server.log" >&2; exit 1; }
export PUMASI_TEST_POSTGRES="postgresql://pumasi@127.0.0.1:$port/postgres"
export PUMASI_TEST_PGBIN="$pgbin"
echo "PostgreSQL $("$pgbin/postgres" --version | awk '{print $3}') for the tests at 127.0.0.1:$port" >&2

swift build --build-tests 2>&1 | tail -n 3
# One test at a time. Swift Testing starts every test at once on a pool as wide as the cores, and most of these
# tests block (on processes, sockets, the database): on 2 cores a test could spend its whole time limit waiting for a
# thread before it ran at all (on PostgreSQL, tests failed at 60 s that take 0.2 s). In series each time limit counts
# its own test's run; the suite takes about 2 minutes per backend instead of 1.5.
serial=(--no-parallel)
echo "== the suite on SQLite" >&2
PUMASI_TEST_BACKEND=sqlite swift test --skip-build "${serial[@]}" "$@"
echo "== the suite on PostgreSQL" >&2
PUMASI_TEST_BACKEND=postgresql swift test --skip-build "${serial[@]}" "$@"
