# Shared shell helpers for the demo and the local cluster. Source it; it defines functions only.

# Installs the system libraries Pumasi links against, when they are missing (Debian/Ubuntu).
pumasi_install_packages() {
    if dpkg -s libzmq3-dev libsqlite3-dev libpq-dev libsodium-dev zlib1g-dev libyaml-dev >/dev/null 2>&1; then return 0; fi
    echo "==> installing libzmq3-dev, libsqlite3-dev, libpq-dev, libsodium-dev, zlib1g-dev and libyaml-dev"
    if [ "$(id -u)" = 0 ]; then
        apt-get update -qq && apt-get install -y -qq libzmq3-dev libsqlite3-dev libpq-dev libsodium-dev zlib1g-dev libyaml-dev >/dev/null
    else
        sudo apt-get update -qq && sudo apt-get install -y -qq libzmq3-dev libsqlite3-dev libpq-dev libsodium-dev zlib1g-dev libyaml-dev >/dev/null
    fi
}

# Builds the package (debug unless PUMASI_BUILD=release) and sets $bin to the products folder.
pumasi_build() {
    local root=$1 configuration=${PUMASI_BUILD:-debug}
    echo "==> building ($configuration)"
    swift build --package-path "$root" -c "$configuration" 2>&1 | grep -E 'error|warning: unre|Compiling|Build' | tail -n 3
    bin=$(swift build --package-path "$root" -c "$configuration" --show-bin-path)
}

# Waits up to 20 s for a broker to write DIR/broker.json; sets $router and $pub from it.
pumasi_wait_for_broker() {
    local file=$1/broker.json
    for _ in $(seq 1 200); do
        if [ -s "$file" ]; then
            router=$(sed -E 's/.*"router":"([^"]+)".*/\1/' "$file")
            pub=$(sed -E 's/.*"pub":"([^"]+)".*/\1/' "$file")
            return 0
        fi
        sleep 0.1
    done
    echo "broker did not start; see its log" >&2
    return 1
}

# Sends SIGTERM to each PID and waits for it (at most 10 s each, then SIGKILL).
pumasi_stop() {
    local pid
    for pid in "$@"; do kill -TERM "$pid" 2>/dev/null || true; done
    for pid in "$@"; do
        for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
}
