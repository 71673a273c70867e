#!/usr/bin/env bash
# services.sh: install (Debian) and run careline's private PostgreSQL and Redis.
#
#   scripts/services.sh deps run|test|bench   install the Debian packages `make run` / `make test` / `make bench` need
#   scripts/services.sh up              start (or reuse) PostgreSQL and Redis; write .local/env
#   scripts/services.sh down            stop them
#
# Everything lives under .local/ (git-ignored). Ports are picked once, away from the
# defaults (5432/6379), and remembered in .local/*/port so a second run reuses them.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
LOCAL="$ROOT/.local"
mkdir -p "$LOCAL"

die() { echo "services: $*" >&2; exit 1; }
log() { echo "services: $*" >&2; }

RUN_PKGS="postgresql-15 redis-server"
TEST_PKGS="$RUN_PKGS baresip-core sip-tester sipsak kamailio tshark sox libsox-fmt-all espeak-ng prometheus chromium rtpengine-daemon rtpengine-utils netcat-openbsd nodejs"

missing_pkgs() {
	local p out=""
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || out="$out $p"
	done
	echo "$out"
}

deps() {
	local want
	case "${1:-run}" in
	run) want=$RUN_PKGS ;;
	test) want=$TEST_PKGS ;;
	bench) want="$TEST_PKGS rtpengine-daemon" ;;
	*) die "deps: say run, test or bench" ;;
	esac
	local miss
	miss=$(missing_pkgs $want)
	[ -z "$miss" ] && { npm_deps "${1:-run}"; return 0; }
	if [ "$(id -u)" != 0 ]; then
		die "missing Debian packages:$miss (run as root, or: sudo apt-get install$miss)"
	fi
	log "installing:$miss"
	export DEBIAN_FRONTEND=noninteractive
	# Services must not auto-start from the package; we run private instances.
	local tmp; tmp=$(mktemp -d)
	if ! TMPDIR=$tmp apt-get install -y --no-install-recommends $miss >"$LOCAL/apt.log" 2>&1; then
		TMPDIR=$tmp apt-get update >>"$LOCAL/apt.log" 2>&1 || die "apt-get update failed; see $LOCAL/apt.log"
		TMPDIR=$tmp apt-get install -y --no-install-recommends $miss >>"$LOCAL/apt.log" 2>&1 ||
			die "apt-get install failed; see $LOCAL/apt.log"
	fi
	rm -rf "$tmp"
	npm_deps "${1:-run}"
}

# npm_deps KIND: the FHIR test server (npm, from its committed package-lock.json).
npm_deps() {
	[ "$1" = run ] && return 0
	local d="$ROOT/internal/testenv/fhirserver"
	[ -d "$d/node_modules/@medplum/fhir-router" ] && return 0
	log "installing the FHIR test server (npm ci in internal/testenv/fhirserver)"
	(cd "$d" && npm ci --no-audit --no-fund >"$LOCAL/npm.log" 2>&1) || die "npm ci failed; see $LOCAL/npm.log"
}

port_busy() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# pick_port FILE LOW HIGH: reuse the remembered port, or choose a free one.
pick_port() {
	local file=$1 lo=$2 hi=$3 p
	if [ -s "$file" ]; then cat "$file"; return; fi
	for _ in $(seq 1 200); do
		p=$((lo + RANDOM % (hi - lo)))
		if ! port_busy "$p"; then echo "$p" >"$file"; echo "$p"; return; fi
	done
	die "no free port between $lo and $hi"
}

pg_bin() {
	local d
	for d in /usr/lib/postgresql/*/bin; do
		[ -x "$d/pg_ctl" ] && { echo "$d"; return; }
	done
	die "PostgreSQL server binaries not found (scripts/services.sh deps run installs postgresql-15)"
}

# as_pg CMD...: run as the postgres user when we are root (PostgreSQL refuses root).
as_pg() {
	if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

pg_dir() {
	# The data directory lives under .local/pg. When root runs this from a directory the
	# postgres user cannot reach (e.g. under /root), the data goes to /var/tmp and
	# .local/pg is a symlink to it.
	local d="$LOCAL/pg"
	if [ -L "$d" ] || [ -d "$d" ]; then echo "$d"; return; fi
	if [ "$(id -u)" = 0 ] && ! runuser -u postgres -- test -x "$LOCAL"; then
		local alt; alt="/var/tmp/careline-pg-$(echo "$ROOT" | md5sum | cut -c1-12)"
		mkdir -p "$alt" && chown postgres:postgres "$alt"
		ln -s "$alt" "$d"
	else
		mkdir -p "$d"
		[ "$(id -u)" = 0 ] && chown postgres:postgres "$d"
	fi
	echo "$d"
}

pg_up() {
	local bin dir port
	bin=$(pg_bin)
	dir=$(pg_dir)
	port=$(pick_port "$LOCAL/pg.port" 15400 15999)
	if [ ! -f "$dir/data/PG_VERSION" ]; then
		log "initialising PostgreSQL in $dir/data"
		as_pg "$bin/initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 >"$LOCAL/initdb.log" 2>&1 ||
			die "initdb failed; see $LOCAL/initdb.log"
	fi
	if as_pg "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
		:
	else
		if port_busy "$port"; then
			rm -f "$LOCAL/pg.port"
			port=$(pick_port "$LOCAL/pg.port" 15400 15999)
		fi
		as_pg "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 start \
			-o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c max_connections=300 -c fsync=on" >/dev/null ||
			die "PostgreSQL did not start; see $dir/server.log"
	fi
	for _ in $(seq 1 100); do
		psql -h 127.0.0.1 -p "$port" -U postgres -tAc "select 1" >/dev/null 2>&1 && break
		sleep 0.1
	done
	psql -h 127.0.0.1 -p "$port" -U postgres -tAc "select 1" >/dev/null 2>&1 || die "PostgreSQL on port $port does not answer"
	psql -h 127.0.0.1 -p "$port" -U postgres -tAc "select 1 from pg_database where datname='careline'" | grep -q 1 ||
		psql -h 127.0.0.1 -p "$port" -U postgres -qc "create database careline" >/dev/null
	echo "$port"
}

redis_up() {
	local dir="$LOCAL/redis" port
	mkdir -p "$dir"
	port=$(pick_port "$LOCAL/redis.port" 16400 16999)
	if [ -f "$dir/redis.pid" ] && kill -0 "$(cat "$dir/redis.pid")" 2>/dev/null &&
		redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null | grep -q PONG; then
		echo "$port"; return
	fi
	command -v redis-server >/dev/null || die "redis-server not found (scripts/services.sh deps run installs it)"
	if port_busy "$port"; then rm -f "$LOCAL/redis.port"; port=$(pick_port "$LOCAL/redis.port" 16400 16999); fi
	redis-server --bind 127.0.0.1 --port "$port" --daemonize yes --pidfile "$dir/redis.pid" \
		--dir "$dir" --logfile "$dir/redis.log" --save '' --appendonly no >/dev/null ||
		die "redis-server did not start; see $dir/redis.log"
	for _ in $(seq 1 100); do
		redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null | grep -q PONG && break
		sleep 0.05
	done
	redis-cli -h 127.0.0.1 -p "$port" ping 2>/dev/null | grep -q PONG || die "Redis on port $port does not answer"
	echo "$port"
}

secrets() {
	# One generated value per env: secret the example config references (and any added
	# later): missing variables are appended, existing ones kept.
	local f="$LOCAL/secrets.env" var
	umask 077
	touch "$f"
	for var in $(grep -oE 'env:CARELINE_[A-Z0-9_]+' "$ROOT/configs/careline.yaml" | cut -d: -f2 | sort -u); do
		case "$var" in CARELINE_DATABASE_URL | CARELINE_REDIS_URL) continue ;; esac
		grep -q "^$var=" "$f" && continue
		if [ "$var" = CARELINE_RECORDING_KEY ]; then
			echo "$var=$(head -c 32 /dev/urandom | base64 | tr -d '\n')" >>"$f"
		else
			echo "$var=$(head -c 12 /dev/urandom | od -An -tx1 | tr -d ' \n')" >>"$f"
		fi
		log "generated $var in $f"
	done
}

up() {
	local pgport redisport
	pgport=$(pg_up)
	redisport=$(redis_up)
	secrets
	cat >"$LOCAL/env" <<EOF
CARELINE_DATABASE_URL=postgres://postgres@127.0.0.1:$pgport/careline?sslmode=disable
CARELINE_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:$pgport/postgres?sslmode=disable
CARELINE_TEST_REDIS_URL=redis://127.0.0.1:$redisport/0
CARELINE_TEST_PG_BIN=$(pg_bin)
EOF
	cat "$LOCAL/secrets.env" >>"$LOCAL/env"
	log "PostgreSQL on 127.0.0.1:$pgport, Redis on 127.0.0.1:$redisport (env in $LOCAL/env)"
}

down() {
	local dir="$LOCAL/pg"
	if [ -f "$dir/data/PG_VERSION" ]; then
		as_pg "$(pg_bin)/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
	fi
	if [ -f "$LOCAL/redis/redis.pid" ] && [ -s "$LOCAL/redis.port" ]; then
		redis-cli -h 127.0.0.1 -p "$(cat "$LOCAL/redis.port")" shutdown nosave >/dev/null 2>&1 || true
	fi
	log "stopped"
}

case "${1:-}" in
deps) deps "${2:-run}" ;;
up) up ;;
down) down ;;
*) die "usage: $0 deps run|test|bench | up | down" ;;
esac
