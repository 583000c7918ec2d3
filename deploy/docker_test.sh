#!/usr/bin/env bash
# The Docker deployment, tested for real (`make docker-test`; README "Deploy with Docker").
#
# As root on a Debian 12 machine that reaches Debian's mirror and the Python package index but
# no image registry, it:
#   1. installs docker.io, docker-compose (v1) and debootstrap with apt when missing;
#   2. starts its own dockerd (data and exec roots in a temp dir, no bridge, no iptables);
#   3. debootstraps Debian bookworm (the mirror apt uses) and `docker import`s it as the base;
#   4. builds a wheelhouse of the project's dependencies on the host (`pip wheel`);
#   5. builds the images (docker-compose.yml + deploy/docker-compose.test.yml: host networking,
#      the Debian base, the wheelhouse), brings tws-sim and the engine up, waits (bounded) for
#      the engine's health (`main.py health` over its control socket), checks that trades flow
#      (fill lines on the engine's stderr, `main.py status --json` as a read-only client, and
#      the ledger's report), that `attach --read-only` draws the dashboard on a pseudo-terminal,
#      then `down`: the engine must exit 0 within 5 s of SIGTERM, its log say "engine: stopped",
#      and the ledger volume keep the fills;
#   6. with DOCKER_TEST_POSTGRES=1 (the default), the same with the ledger on PostgreSQL (an
#      image built from the Debian base, deploy/postgres/);
#   7. removes everything it created (containers, images, volumes, dockerd and its roots, the
#      wheelhouse, temp dirs) in a trap, on success and on failure.
# Exit 0 when every check passed; the wall time of each step and the total are printed.
# Environment: PYTHON (a Python 3.11 with pip, default .venv/bin/python), DOCKER_TEST_SPEED
# (simulated x real time, default 120), DOCKER_TEST_POSTGRES (1 or 0).
set -euo pipefail

cd "$(dirname "$0")/.."
ROOT=$PWD
STARTED=$(date +%s)
PYTHON=${PYTHON:-$ROOT/.venv/bin/python}
SPEED=${DOCKER_TEST_SPEED:-120}
WITH_POSTGRES=${DOCKER_TEST_POSTGRES:-1}
TWS_PORT=4002 # deploy/config.toml's broker.ib.port: tws-sim listens there, on the host's loopback
HEALTH_WAIT_S=120
FILL_WAIT_S=120
STOP_LIMIT_S=5

say() { printf '%s docker_test: %s\n' "$(date +%H:%M:%S)" "$*"; }
fail() {
    say "FAILED: $*"
    exit 1
}
step_started=$STARTED
step() {
    local now
    now=$(date +%s)
    say "$* (previous step $((now - step_started)) s)"
    step_started=$now
}

[[ $(id -u) == 0 ]] || {
    echo "deploy/docker_test.sh: run it as root (it installs packages and starts its own dockerd)" >&2
    exit 2
}
[[ -x $PYTHON ]] || {
    echo "deploy/docker_test.sh: no Python at $PYTHON: run \`make docker-test\` (it creates .venv) or set PYTHON" >&2
    exit 2
}
if ! "$PYTHON" -c "import socket, sys; socket.create_server(('127.0.0.1', int(sys.argv[1]))).close()" "$TWS_PORT" 2>/dev/null; then
    echo "deploy/docker_test.sh: port $TWS_PORT on this host is in use; tws-sim needs it (stop what listens there)" >&2
    exit 2
fi

# --- everything below is undone by cleanup -------------------------------------------------
WORK=$(mktemp -d /tmp/dkt.XXXXXX) # short: dockerd's and containerd's socket paths live under it
# In memory when there is room (about 1 GB is used): dpkg's fsyncs (debootstrap, apt in the
# builds) cost nothing there, and the cleanup is an unmount instead of deleting image layers.
if (($(awk '/^MemAvailable:/ {print int($2 / 1048576)}' /proc/meminfo) >= 6)); then
    mount -t tmpfs -o size=4g,mode=0700 docker-test "$WORK"
fi
export DOCKER_TEST_WHEELHOUSE=.wheelhouse/$$ # in the build context (.dockerignore lets .wheelhouse/ in)
WHEELHOUSE=$DOCKER_TEST_WHEELHOUSE
DOCKERD_PID=
PROJECT=ibdockertest$$
export DOCKER_HOST=unix://$WORK/docker.sock
export COMPOSE_PROJECT_NAME=$PROJECT
export COMPOSE_DOCKER_CLI_BUILD=0 DOCKER_BUILDKIT=0 # the legacy builder: no buildx here
export DOCKER_TEST_BASE=ib-actor-engine-test/debian:bookworm
export DOCKER_TEST_IMAGE=ib-actor-engine-test/engine:$$
export DOCKER_TEST_PG_IMAGE=ib-actor-engine-test/postgres:$$
export SPEED
unset PGPASSWORD DOCKER_TEST_PG_PORT
export ENGINE_DB=sqlite:////data/engine.db # docker-compose.yml's default, in the ledger volume
COMPOSE=(docker-compose -f docker-compose.yml -f deploy/docker-compose.test.yml)

cleanup() {
    local rc=$?
    set +e
    trap - EXIT INT TERM
    local cleanup_started
    cleanup_started=$(date +%s)
    if [[ -n $DOCKERD_PID ]] && kill -0 "$DOCKERD_PID" 2>/dev/null; then
        if ((rc != 0)); then
            say "the stack's last log lines:"
            "${COMPOSE[@]}" --profile postgres logs --no-color --tail=10 tws-sim postgres 2>&1
            "${COMPOSE[@]}" logs --no-color --tail=60 engine 2>&1
        fi
        # Containers, networks and volumes; the images go with dockerd's data root below.
        "${COMPOSE[@]}" --profile postgres down -v --remove-orphans -t 15 >/dev/null 2>&1
        kill -TERM "$DOCKERD_PID"
        for _ in $(seq 1 150); do # at most 15 s, then SIGKILL
            kill -0 "$DOCKERD_PID" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$DOCKERD_PID" 2>/dev/null
        wait "$DOCKERD_PID" 2>/dev/null
    fi
    # Mounts dockerd left behind (none after a clean stop), deepest first, then the files.
    awk -v w="$WORK" 'index($2, w) == 1 {print $2}' /proc/mounts | sort -r | xargs -r -n1 umount -l
    rm -rf "$WORK" "$ROOT/$WHEELHOUSE"
    rmdir "$ROOT/.wheelhouse" 2>/dev/null
    say "cleaned up in $(($(date +%s) - cleanup_started)) s; total $(($(date +%s) - STARTED)) s; exit $rc"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- 1. packages -----------------------------------------------------------------------------
missing=()
command -v dockerd >/dev/null || missing+=(docker.io)
command -v docker-compose >/dev/null || missing+=(docker-compose)
command -v debootstrap >/dev/null || missing+=(debootstrap)
if ((${#missing[@]})); then
    step "installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# --- 2. our own dockerd ----------------------------------------------------------------------
step "starting dockerd in $WORK"
dockerd --data-root "$WORK/root" --exec-root "$WORK/exec" --pidfile "$WORK/dockerd.pid" \
    --host "$DOCKER_HOST" --bridge=none --iptables=false --ip-masq=false \
    >"$WORK/dockerd.log" 2>&1 &
DOCKERD_PID=$!
for _ in $(seq 1 300); do # at most 30 s
    docker version >/dev/null 2>&1 && break
    kill -0 "$DOCKERD_PID" 2>/dev/null || { tail -n 20 "$WORK/dockerd.log"; fail "dockerd exited"; }
    sleep 0.1
done
docker version >/dev/null 2>&1 || { tail -n 20 "$WORK/dockerd.log"; fail "dockerd did not answer within 30 s"; }

# --- 3. the Debian base image ----------------------------------------------------------------
# The stanza (deb822) or line (one-line format) of the suite "bookworm" itself, not -security.
mirror=$(awk 'BEGIN {RS = ""} / bookworm( |\n|$)/ && /Types:[^\n]* deb( |\n|$)/ {
    if (match($0, /URIs: *[^ \n]+/)) {split(substr($0, RSTART, RLENGTH), f, / +/); print f[2]; exit}
}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
[[ -n $mirror ]] || mirror=$(awk '$1 == "deb" {i = 2; if ($i ~ /^\[/) while ($i !~ /\]$/) i++; if ($i ~ /^\[/ || $i ~ /\]$/) i++; if ($(i + 1) == "bookworm") {print $i; exit}}' \
    /etc/apt/sources.list 2>/dev/null || true)
[[ -n $mirror ]] || fail "no Debian mirror found in /etc/apt/sources.list.d/debian.sources or /etc/apt/sources.list"
step "debootstrap bookworm from $mirror"
debootstrap --variant=minbase bookworm "$WORK/rootfs" "$mirror" >"$WORK/debootstrap.log" 2>&1 ||
    { tail -n 20 "$WORK/debootstrap.log"; fail "debootstrap"; }
tar -C "$WORK/rootfs" -c . | docker import - "$DOCKER_TEST_BASE" >/dev/null
rm -rf "$WORK/rootfs"

# --- 4. the wheelhouse -----------------------------------------------------------------------
step "building the wheelhouse"
"$PYTHON" -c "import tomllib; p = tomllib.load(open('pyproject.toml', 'rb'))['project']; print('\n'.join(p['dependencies'] + p['optional-dependencies']['postgres']))" >"$WORK/requirements.txt"
"$PYTHON" -m pip wheel --quiet --disable-pip-version-check -w "$ROOT/$WHEELHOUSE" \
    -r "$WORK/requirements.txt" >"$WORK/pip.log" 2>&1 || { tail -n 30 "$WORK/pip.log"; fail "pip wheel"; }

# --- 5. images, up, health, trades, down -----------------------------------------------------
step "building the images"
services=(engine) # tws-sim runs the same image
if [[ $WITH_POSTGRES == 1 ]]; then
    services+=(postgres)
fi
"${COMPOSE[@]}" --profile postgres build --parallel "${services[@]}" >"$WORK/build.log" 2>&1 ||
    { tail -n 30 "$WORK/build.log"; fail "docker-compose build"; }

container_of() { "${COMPOSE[@]}" ps -q "$1"; }

wait_healthy() { # service, seconds
    local cid status
    cid=$(container_of "$1")
    [[ -n $cid ]] || fail "$1: no container"
    for _ in $(seq 1 $(($2 * 2))); do
        status=$(docker inspect -f '{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{end}}' "$cid")
        case $status in
        "running healthy") return 0 ;;
        "running unhealthy") fail "$1 is unhealthy: $(docker inspect -f '{{range .State.Health.Log}}{{.ExitCode}}: {{.Output}}{{end}}' "$cid" | tail -n 3)" ;;
        running*) sleep 0.5 ;;
        *) fail "$1 is $status (exit $(docker inspect -f '{{.State.ExitCode}}' "$cid"))" ;;
        esac
    done
    fail "$1 not healthy within $2 s ($status)"
}

wait_for_fill() { # seconds
    for _ in $(seq 1 $(($1 * 2))); do
        if "${COMPOSE[@]}" logs --no-color engine 2>/dev/null | grep -q ' fill '; then
            return 0
        fi
        sleep 0.5
    done
    fail "no fill line on the engine's stderr within $1 s"
}

check_status() { # label
    # `main.py status --json`: a read-only client of the control socket. The engine must say it
    # is healthy and connected, and its VAs must have traded (a position open, or wins/losses).
    "${COMPOSE[@]}" exec -T engine python main.py status --json >"$WORK/status.json" ||
        fail "$1: main.py status --json exited $?"
    local traded
    traded=$("$PYTHON" - "$WORK/status.json" 2>&1 <<'PY'
import json
import sys

status = json.load(open(sys.argv[1]))
health = status["health"]
if not (health["ok"] and health["connected"]):
    sys.exit(f"status says the engine is not healthy and connected: {health}")
print(sum(va["wins"] + va["losses"] + va["open_positions"] for va in status["vas"]))
PY
    ) || fail "$1: main.py status --json: $traded"
    ((traded > 0)) || fail "$1: main.py status --json shows no trade in any VA"
    say "$1: status (read-only, over the socket): healthy, connected, $traded trades and positions in the VAs"
}

check_attach() { # label
    # The dashboard in the container, read-only, on a pseudo-terminal (`script`), as a user types
    # `docker compose exec engine python main.py attach --read-only`: it must draw the engine's
    # virtual accounts, then it is closed (a viewer: nothing to stop).
    local screen=$WORK/attach.typescript keys=$WORK/attach.keys viewer
    mkfifo "$keys" # its stdin: no key, and no end of input while fd 7 holds it open
    TERM=xterm-256color script -qfec "${COMPOSE[*]} exec engine python main.py attach --read-only" \
        "$screen" <"$keys" >/dev/null 2>&1 &
    viewer=$!
    exec 7>"$keys"
    for _ in $(seq 1 60); do # at most 30 s
        grep -aq "Virtual accounts" "$screen" 2>/dev/null && break
        sleep 0.5
    done
    kill "$viewer" 2>/dev/null
    wait "$viewer" 2>/dev/null
    exec 7>&-
    grep -aq "Virtual accounts" "$screen" ||
        fail "$1: attach --read-only drew no dashboard within 30 s: $(tr -c '[:print:]' ' ' <"$screen" | tail -c 400)"
    say "$1: attach --read-only drew the dashboard in the container"
}

down_and_check_stop() { # label
    # `down` sends SIGTERM (a `kill` event, signal 15) and waits stop_grace_period (15 s) before
    # SIGKILL (a second `kill`, signal 9); the engine's own stop is from that first `kill` to its
    # `die` event, whose exit code is the engine's.
    local cid since events took code
    cid=$(container_of engine)
    since=$(date +%s.%N)
    "${COMPOSE[@]}" --profile postgres down -t 15 >"$WORK/down.log" 2>&1 || { cat "$WORK/down.log"; fail "docker-compose down"; }
    docker events --since "$since" --until "$(date +%s.%N)" --filter "container=$cid" \
        --filter event=kill --filter event=die \
        --format '{{.TimeNano}} {{.Action}} {{index .Actor.Attributes "signal"}}{{index .Actor.Attributes "exitCode"}}' \
        >"$WORK/events.txt"
    events=$(tr '\n' ';' <"$WORK/events.txt")
    ! grep -q ' kill 9$' "$WORK/events.txt" || fail "$1: the engine was killed (SIGKILL) on down: $events"
    code=$(awk '$2 == "die" {print $3; exit}' "$WORK/events.txt")
    [[ $code == 0 ]] || fail "$1: the engine exited ${code:-?} on down (events: $events)"
    took=$(awk '$2 == "kill" && !k {k = $1} $2 == "die" {d = $1} END {if (k && d) printf "%.2f", (d - k) / 1e9}' "$WORK/events.txt")
    [[ -n $took ]] || fail "$1: no SIGTERM and exit of the engine among the daemon's events: $events"
    awk -v t="$took" -v l="$STOP_LIMIT_S" 'BEGIN {exit !(t <= l)}' ||
        fail "$1: the engine took $took s from SIGTERM to exit (limit $STOP_LIMIT_S s)"
    # The logs volume outlives `down` (no -v): the engine's own last word is in it.
    docker run --rm --network none -v "${PROJECT}_logs:/logs:ro" "$DOCKER_TEST_IMAGE" \
        grep -q "engine: stopped" /logs/engine.log ||
        fail "$1: /logs/engine.log does not say \"engine: stopped\""
    say "$1: down: SIGTERM to exit in $took s, exit code 0, \"engine: stopped\" in its log"
}

filled_orders() { # file with `main.py report --json`: prints the number of filled orders
    "$PYTHON" -c "import json, sys; r = json.load(open(sys.argv[1])); print(sum(o['status'] == 'filled' for o in r['orders']))" "$1"
}

run_stack() { # label
    step "$1: up"
    "${COMPOSE[@]}" up -d tws-sim engine >"$WORK/up.log" 2>&1 || { cat "$WORK/up.log"; fail "docker-compose up"; }
    wait_healthy engine "$HEALTH_WAIT_S"
    step "$1: the engine is healthy"
    local uid
    uid=$("${COMPOSE[@]}" exec -T engine id -u)
    [[ $uid != 0 ]] || fail "$1: the engine runs as root"
    wait_for_fill "$FILL_WAIT_S"
    step "$1: trades flow: $("${COMPOSE[@]}" logs --no-color engine | grep ' fill ' | head -n 1 | sed 's/^[^|]*| //')"
    check_status "$1"
    [[ $1 != sqlite ]] || check_attach "$1"
    # The ledger (SQLite in the ledger volume, or the PostgreSQL server) holds them: `report`
    # reads it beside the running engine.
    "${COMPOSE[@]}" exec -T engine python main.py report --db "$ENGINE_DB" --json >"$WORK/report.json" ||
        fail "$1: main.py report exited $?"
    local filled
    filled=$(filled_orders "$WORK/report.json")
    ((filled > 0)) || fail "$1: the ledger has no filled order"
    say "$1: the ledger has $filled filled orders; the engine runs as uid $uid"
    down_and_check_stop "$1"
}

run_stack "sqlite"
# The ledger outlives `down` in its volume: a new container reads the same orders.
docker run --rm --network none -v "${PROJECT}_ledger:/data" "$DOCKER_TEST_IMAGE" \
    python main.py report --db "$ENGINE_DB" --json >"$WORK/report-after.json" ||
    fail "sqlite: main.py report on the ledger volume after down exited $?"
kept=$(filled_orders "$WORK/report-after.json")
((kept >= $(filled_orders "$WORK/report.json"))) || fail "sqlite: the ledger volume lost filled orders after down"
say "sqlite: the ledger volume keeps its $kept filled orders after down"

if [[ $WITH_POSTGRES == 1 ]]; then
    DOCKER_TEST_PG_PORT=$("$PYTHON" -c "import socket; s = socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])")
    export DOCKER_TEST_PG_PORT
    export PGPASSWORD="test-$$-$RANDOM" # made up here, lives in this process's environment only
    export ENGINE_DB="postgresql://engine@127.0.0.1:$DOCKER_TEST_PG_PORT/ledger"
    step "postgres: up on 127.0.0.1:$DOCKER_TEST_PG_PORT"
    "${COMPOSE[@]}" --profile postgres up -d postgres >"$WORK/up.log" 2>&1 || { cat "$WORK/up.log"; fail "docker-compose up postgres"; }
    wait_healthy postgres 60
    # A fresh ledger and a fresh tws-sim account: the first run's volumes go.
    docker volume rm "${PROJECT}_ledger" "${PROJECT}_logs" "${PROJECT}_tws-sim-data" >/dev/null
    run_stack "postgres"
fi

step "all checks passed"
