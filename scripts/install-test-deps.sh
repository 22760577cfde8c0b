#!/usr/bin/env bash
# Install the system packages the test suite needs: Redis, Chromium (+ fonts) and a
# PostgreSQL >= 14 server. Idempotent and quick when everything is already there.
#
# It only installs: it never starts a service. The pytest plugin tests/plugins/services.py
# starts throwaway PostgreSQL and Redis servers on random ports itself, and
# tests/plugins/browser.py drives /usr/bin/chromium.
#
# As root, missing packages are installed with apt-get (Debian/Ubuntu). As any other user,
# the script names the packages to install and exits non-zero.
set -euo pipefail

PG_MIN_MAJOR=14

log() { printf 'install-test-deps: %s\n' "$*"; }
die() { printf 'install-test-deps: ERROR: %s\n' "$*" >&2; exit 1; }

find_pg_candidates() {
    if command -v pg_config >/dev/null 2>&1; then
        candidates+=("$(pg_config --bindir 2>/dev/null || true)")
    fi
    # /usr/lib/postgresql/<major>/bin, newest first (Debian layout).
    while IFS= read -r dir; do candidates+=("$dir"); done < <(
        ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k4,4 -rn
    )
    if command -v initdb >/dev/null 2>&1; then
        candidates+=("$(dirname "$(readlink -f "$(command -v initdb)")")")
    fi
}

# Prints the first bin dir with a PostgreSQL server (initdb + postgres) whose major
# version is >= PG_MIN_MAJOR. Same search order as tests/plugins/services.py.
find_pg_bindir() {
    local candidates=() dir major
    if [[ -n "${SKIFF_PG_BIN:-}" ]]; then
        candidates=("$SKIFF_PG_BIN")  # explicit: that dir or nothing
    else
        find_pg_candidates
    fi
    for dir in "${candidates[@]}"; do
        [[ -n "$dir" && -x "$dir/initdb" && -x "$dir/postgres" ]] || continue
        major=$("$dir/postgres" --version 2>/dev/null | sed -nE 's/.* ([0-9]+)(\.[0-9]+)*.*/\1/p' | head -n1)
        if [[ -n "$major" && "$major" -ge "$PG_MIN_MAJOR" ]]; then
            printf '%s\n' "$dir"
            return 0
        fi
    done
    return 1
}

pkg_installed() {
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

missing=()
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
[[ -x "${SKIFF_CHROMIUM:-/usr/bin/chromium}" ]] || missing+=(chromium)
if command -v dpkg-query >/dev/null 2>&1 && ! pkg_installed fonts-liberation; then
    missing+=(fonts-liberation)
fi
# Invoice PDFs embed DejaVu Sans for names beyond Latin-1 (billing/services/exports.py).
if command -v dpkg-query >/dev/null 2>&1 && ! pkg_installed fonts-dejavu-core; then
    missing+=(fonts-dejavu-core)
fi
# The browser tests run axe-core (accessibility) inside the pages: from the npm registry,
# into var/test-deps/ (never into static/: it is a test tool, not part of the console).
AXE_VERSION=4.11.0
AXE_DIR="${SKIFF_AXE_DIR:-$(cd "$(dirname "$0")/.." && pwd)/var/test-deps/axe-core-${AXE_VERSION}}"
command -v npm >/dev/null 2>&1 || missing+=(npm)
install_axe() {
    if [[ -f "$AXE_DIR/node_modules/axe-core/axe.min.js" ]]; then
        return 0
    fi
    command -v npm >/dev/null 2>&1 || die "npm is needed to install axe-core for the browser tests"
    log "installing axe-core ${AXE_VERSION} into $AXE_DIR"
    mkdir -p "$AXE_DIR"
    npm install --silent --no-audit --no-fund --no-save --prefix "$AXE_DIR" "axe-core@${AXE_VERSION}" \
        || die "could not install axe-core ${AXE_VERSION} from the npm registry"
    [[ -f "$AXE_DIR/node_modules/axe-core/axe.min.js" ]] || die "axe-core installed without axe.min.js"
}

# The client snippets' toolchains (tests/clusters/test_snippets_run.py runs every snippet as
# copied): kcat, Node.js with npm, a JDK with Maven (also the brokers' runtime). Go comes from
# the machine image (/usr/local/go): Debian 12's golang-go (1.19) is too old for franz-go.
command -v kcat >/dev/null 2>&1 || missing+=(kcat)
command -v node >/dev/null 2>&1 || missing+=(nodejs)
command -v npm >/dev/null 2>&1 || missing+=(npm)
command -v mvn >/dev/null 2>&1 || missing+=(maven)
command -v javac >/dev/null 2>&1 || missing+=(openjdk-17-jdk-headless)
if ! command -v go >/dev/null 2>&1 && [[ ! -x /usr/local/go/bin/go ]]; then
    die "Go (1.26 or newer) is missing: the Go client snippet needs it. Install it from go.dev's
release archive into /usr/local/go (Debian 12's golang-go is too old)."
fi
pg_bindir=$(find_pg_bindir || true)
if [[ -z "$pg_bindir" && -n "${SKIFF_PG_BIN:-}" ]]; then
    die "SKIFF_PG_BIN=$SKIFF_PG_BIN has no PostgreSQL >= ${PG_MIN_MAJOR} initdb and postgres"
fi
[[ -n "$pg_bindir" ]] || missing+=(postgresql)

if [[ ${#missing[@]} -eq 0 ]]; then
    install_axe
    log "all present (redis-server, chromium, PostgreSQL in $pg_bindir, snippet toolchains)"
    exit 0
fi

if [[ "$(id -u)" -ne 0 ]]; then
    die "missing: ${missing[*]}. Install them as root, e.g.:
    sudo apt-get update && sudo apt-get install -y --no-install-recommends ${missing[*]}
(PostgreSQL must be >= ${PG_MIN_MAJOR}; set SKIFF_PG_BIN to its bin dir if it is elsewhere.)"
fi
command -v apt-get >/dev/null 2>&1 || die "missing: ${missing[*]} and apt-get is not available: install them by hand"

log "installing: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive NEEDRESTART_SUSPEND=1

# Keep the packages' maintainer scripts from starting system services (a redis-server on
# 6379, a PostgreSQL "main" cluster on 5432): the tests start their own. policy-rc.d exit
# code 101 = "action forbidden"; only ours is removed afterwards.
policy=/usr/sbin/policy-rc.d
own_policy=0
if [[ ! -e "$policy" ]]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod 755 "$policy"
    own_policy=1
fi
cleanup() { if [[ $own_policy -eq 1 ]]; then rm -f "$policy"; fi; }
trap cleanup EXIT

apt_get() {
    apt-get -o Dpkg::Use-Pty=0 -o Acquire::Retries=3 "$@"
}

apt_get update -qq
# --no-install-recommends: chromium recommends desktop bits (upower, notification daemon,
# printer config) that a headless run does not need; fonts-liberation is listed explicitly.
apt_get install -y -qq --no-install-recommends "${missing[@]}"

# If a system redis-server was nevertheless started (e.g. a policy-rc.d of someone else's
# allowed it), stop and disable it: the tests use their own port, but a stray server
# is not wanted on a CI box.
if [[ " ${missing[*]} " == *" redis-server "* ]]; then
    if command -v systemctl >/dev/null 2>&1; then
        if [[ -d /run/systemd/system ]]; then
            systemctl disable --now redis-server >/dev/null 2>&1 || true
        else
            systemctl disable redis-server >/dev/null 2>&1 || true  # no systemd running: links only
        fi
    fi
    if [[ -x /etc/init.d/redis-server ]]; then
        /etc/init.d/redis-server stop >/dev/null 2>&1 || true
    fi
fi

command -v redis-server >/dev/null 2>&1 || die "redis-server still missing after apt-get install"
for tool in kcat node npm mvn javac; do
    command -v "$tool" >/dev/null 2>&1 || die "$tool still missing after apt-get install"
done
[[ -x "${SKIFF_CHROMIUM:-/usr/bin/chromium}" ]] || die "chromium still missing after apt-get install"
pg_bindir=$(find_pg_bindir || true)
[[ -n "$pg_bindir" ]] || die "no PostgreSQL >= ${PG_MIN_MAJOR} server found after installing 'postgresql' (set SKIFF_PG_BIN to its bin dir)"
install_axe
log "done (PostgreSQL in $pg_bindir)"
