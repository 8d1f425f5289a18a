#!/usr/bin/env bash
# Runs a real Apache SkyWalking OAP 10.1.0 in the foreground, built from Maven Central artifacts (no
# Docker, no distribution tarball), for skybridge's tests against the real thing.
#
#   scripts/oap.sh [--grpc-port P] [--rest-port P] [--zipkin-port P] [--host H]
#                  [--kafka BOOTSTRAP [--kafka-namespace NS]] [--token T]
#                  [--storage h2|postgresql] [--log FILE] [--exit-on-stdin-close]
#
# 1. Resolves org.apache.skywalking:server-starter:10.1.0 and its runtime dependency tree with Maven
#    into ~/.m2 and caches the classpath in ${SKYBRIDGE_CACHE:-~/.cache/skybridge}/oap-10.1.0/;
#    later runs use the cache and need no network.
# 2. Starts the OAP (OAPServerStartUp) with scripts/oap/config first on the classpath (our own
#    application.yml, OAL, component catalog, log4j2.xml: see docs/real-peers.md), free ports when
#    none are given, H2 in memory.
# 3. Once the OAP answers GraphQL on the REST port, prints exactly one line on stdout:
#      oap grpc=HOST:PORT rest=http://HOST:PORT
#    Everything else goes to stderr; the OAP's own output goes to the log file (--log, else a
#    temporary file that is deleted on a clean exit).
# 4. Stays in the foreground; SIGTERM/SIGINT stop the JVM (SIGKILL after OAP_STOP_TIMEOUT seconds).
#
# Options:
#   --grpc-port P      core gRPC port: native segments, management, OTLP traces (free port if absent)
#   --rest-port P      core REST port: POST /graphql (free port if absent)
#   --zipkin-port P    query-zipkin's own HTTP port, GET /zipkin/api/v2/... (free port if absent)
#   --host H           address the OAP binds (127.0.0.1)
#   --kafka BOOTSTRAP  enable kafka-fetcher: consume skywalking-segments, -managements, ... from it
#   --kafka-namespace NS   topic prefix (the skywalking_kafka exporter's `namespace`)
#   --token T          require gRPC metadata "Authentication: T" (the skywalking exporter's `token`)
#   --storage S        h2 (default, in memory) or postgresql (127.0.0.1:5432/test, trust auth)
#   --log FILE         append the OAP's output to FILE and keep it
#   --exit-on-stdin-close  stop the OAP when standard input reaches end of file (for a parent that
#                      may die without stopping us: its end of the pipe closes)
#   --prepare          only resolve and cache the classpath, then exit (warms the cache)
# Environment:
#   OAP_JAVA_OPTS (default "-Xms256m -Xmx1g"), OAP_READY_TIMEOUT (seconds, 300),
#   OAP_STOP_TIMEOUT (seconds, 20), OAP_LOG_LEVEL (INFO), SKYBRIDGE_CACHE, JAVA (java),
#   SKYBRIDGE_OAP_JDBC_URL / _USER / _PASSWORD (with --storage postgresql).
set -euo pipefail

OAP_VERSION=10.1.0
MAIN_CLASS=org.apache.skywalking.oap.server.starter.OAPServerStartUp
DEPENDENCY_PLUGIN=org.apache.maven.plugins:maven-dependency-plugin:3.6.1
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CONFIG_DIR="$HERE/oap/config"
POM="$HERE/oap/pom.xml"
CACHE="${SKYBRIDGE_CACHE:-$HOME/.cache/skybridge}/oap-$OAP_VERSION"
JAVA_BIN="${JAVA:-java}"

say() { echo "oap.sh: $*" >&2 2>/dev/null || true; }
# A parent that died takes our stdout/stderr pipes with it; writing there must not kill us before
# we stopped the JVM.
trap '' PIPE
die() { say "$*"; exit 1; }

host=127.0.0.1 grpc_port="" rest_port="" zipkin_port="" kafka="" kafka_namespace="" token="" storage=h2 log_file=""
stdin_watch=0 prepare_only=0
need_value() { [ $# -ge 2 ] && [ -n "$2" ] || die "$1 needs a value (see the header of $0)"; }
while [ $# -gt 0 ]; do
  case "$1" in
    --grpc-port) need_value "$@"; grpc_port=$2; shift 2 ;;
    --rest-port) need_value "$@"; rest_port=$2; shift 2 ;;
    --zipkin-port) need_value "$@"; zipkin_port=$2; shift 2 ;;
    --host) need_value "$@"; host=$2; shift 2 ;;
    --kafka) need_value "$@"; kafka=$2; shift 2 ;;
    --kafka-namespace) need_value "$@"; kafka_namespace=$2; shift 2 ;;
    --token) need_value "$@"; token=$2; shift 2 ;;
    --storage) need_value "$@"; storage=$2; shift 2 ;;
    --log) need_value "$@"; log_file=$2; shift 2 ;;
    --exit-on-stdin-close) stdin_watch=1; shift ;;
    --prepare) prepare_only=1; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//' >&2; exit 0 ;;
    *) die "unknown argument: $1 (see --help)" ;;
  esac
done
case "$storage" in h2|postgresql) ;; *) die "--storage must be h2 or postgresql, not $storage" ;; esac
for p in "$grpc_port" "$rest_port" "$zipkin_port"; do
  [ -z "$p" ] || [[ "$p" =~ ^[0-9]+$ ]] || die "not a port: $p"
done
command -v "$JAVA_BIN" >/dev/null || die "java not found (Java 17 is needed; set JAVA to its path)"
command -v curl >/dev/null || die "curl not found (used to wait for GraphQL)"

own_log=0
if [ -z "$log_file" ]; then
  log_file=$(mktemp "${TMPDIR:-/tmp}/skybridge-oap.XXXXXX.log")
  own_log=1
fi
: >>"$log_file" || die "cannot write the log file $log_file"
log_tail() { say "last lines of $log_file:"; tail -n "${1:-60}" "$log_file" | sed 's/^/  | /' >&2 2>/dev/null || true; }

# --- 1. the classpath -------------------------------------------------------------------------
classpath_ok() { # every jar of the cached classpath still in ~/.m2, for this very pom
  [ -s "$CACHE/classpath.txt" ] && [ -f "$CACHE/pom.sha256" ] || return 1
  [ "$(cat "$CACHE/pom.sha256")" = "$(sha256sum "$POM" | cut -d' ' -f1)" ] || return 1
  local jar
  while IFS= read -r jar; do [ -f "$jar" ] || return 1; done < <(tr ':' '\n' <"$CACHE/classpath.txt")
}
resolve_classpath() {
  mkdir -p "$CACHE"
  exec 9>"$CACHE/.lock"
  flock 9 # another oap.sh may be resolving right now
  if classpath_ok; then exec 9>&-; return 0; fi
  command -v mvn >/dev/null || die "mvn not found (Maven resolves the OAP's jars on the first run)"
  cp "$POM" "$CACHE/pom.xml"
  local started=$SECONDS mode
  for mode in -o ""; do # offline first: enough when ~/.m2 already holds everything
    [ -n "$mode" ] || say "resolving SkyWalking OAP $OAP_VERSION from Maven Central into ~/.m2 (first run: a few minutes)..."
    if mvn -B -q $mode -f "$CACHE/pom.xml" "$DEPENDENCY_PLUGIN:build-classpath" \
        -Dmdep.includeScope=runtime -Dmdep.outputFile="$CACHE/classpath.txt.tmp" >>"$log_file" 2>&1; then
      mv "$CACHE/classpath.txt.tmp" "$CACHE/classpath.txt"
      sha256sum "$POM" | cut -d' ' -f1 >"$CACHE/pom.sha256"
      if classpath_ok; then
        [ -n "$mode" ] || say "resolved in $((SECONDS - started)) s"
        exec 9>&-
        return 0
      fi
    fi
  done
  log_tail 40
  die "Maven could not resolve org.apache.skywalking:server-starter:$OAP_VERSION (full output in $log_file)"
}
resolve_classpath
if [ "$prepare_only" -eq 1 ]; then
  [ "$own_log" -eq 0 ] || rm -f "$log_file"
  exit 0
fi
classpath=$(cat "$CACHE/classpath.txt")

# --- 2. ports and environment -------------------------------------------------------------------
free_ports() { # N distinct ports that are free right now (all held open together while picked)
  node -e '
    const net = require("node:net");
    const servers = Array.from({ length: Number(process.argv[1]) }, () => net.createServer());
    Promise.all(servers.map((s) => new Promise((r) => s.listen(0, process.argv[2], r)))).then(() => {
      console.log(servers.map((s) => s.address().port).join(" "));
      servers.forEach((s) => s.close());
    });' "$1" "$host"
}
p1="" p2="" p3=""
if [ -z "$grpc_port" ] || [ -z "$rest_port" ] || [ -z "$zipkin_port" ]; then
  command -v node >/dev/null || die "node not found (used to pick free ports; or give every port)"
  read -r p1 p2 p3 < <(free_ports 3) || true
fi
grpc_port=${grpc_port:-$p1}
rest_port=${rest_port:-$p2}
zipkin_port=${zipkin_port:-$p3}
[ -n "$grpc_port" ] && [ -n "$rest_port" ] && [ -n "$zipkin_port" ] || die "could not pick free ports"

export SKYBRIDGE_OAP_HOST="$host"
export SKYBRIDGE_OAP_GRPC_PORT="$grpc_port"
export SKYBRIDGE_OAP_REST_PORT="$rest_port"
export SKYBRIDGE_OAP_ZIPKIN_PORT="$zipkin_port"
export SKYBRIDGE_OAP_STORAGE="$storage"
export SKYBRIDGE_OAP_TOKEN="$token"
if [ -n "$kafka" ]; then
  export SKYBRIDGE_OAP_KAFKA_FETCHER=default SKYBRIDGE_OAP_LOG_ANALYZER=default
  export SKYBRIDGE_OAP_KAFKA_SERVERS="$kafka" SKYBRIDGE_OAP_KAFKA_NAMESPACE="$kafka_namespace"
  export SKYBRIDGE_OAP_KAFKA_GROUP="skybridge-oap-$$-$(date +%s)"
else
  export SKYBRIDGE_OAP_KAFKA_FETCHER=- SKYBRIDGE_OAP_LOG_ANALYZER=-
fi
shown_host=$host
[ "$host" != 0.0.0.0 ] || shown_host=127.0.0.1

# --- 3. start, wait for GraphQL -----------------------------------------------------------------
read -r -a java_opts <<<"${OAP_JAVA_OPTS:--Xms256m -Xmx1g}"
say "starting OAP $OAP_VERSION (grpc $shown_host:$grpc_port, rest $rest_port, zipkin query $zipkin_port${kafka:+, kafka $kafka}, storage $storage); log: $log_file"
pid=""
stop_oap() {
  trap '' TERM INT HUP
  [ -z "${watcher:-}" ] || kill "$watcher" 2>/dev/null || true
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then
    say "stopping the OAP (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || true
    local waited=0
    while kill -0 "$pid" 2>/dev/null; do
      if [ "$waited" -ge "$((${OAP_STOP_TIMEOUT:-20} * 10))" ]; then
        say "the OAP did not stop within ${OAP_STOP_TIMEOUT:-20} s: SIGKILL"
        kill -KILL "$pid" 2>/dev/null || true
        break
      fi
      sleep 0.1
      waited=$((waited + 1))
    done
    wait "$pid" 2>/dev/null || true
  fi
  [ "$own_log" -eq 0 ] || rm -f "$log_file"
  exit 0
}
trap stop_oap TERM INT HUP
watcher=""
if [ "$stdin_watch" -eq 1 ]; then
  exec 3<&0 # background jobs get /dev/null as stdin unless told otherwise
  { while read -r -u 3 _; do :; done; kill -TERM $$ 2>/dev/null; } &
  watcher=$!
  exec 3<&-
  trap '[ -z "$watcher" ] || kill "$watcher" 2>/dev/null || true' EXIT
fi

started=$SECONDS
# Fixed flags: UTC, so GraphQL durations ("2024-01-31 1205") are UTC wall-clock time whatever the
# machine's zone; no warning about the mixed Netty versions the OAP's own dependency tree has.
"$JAVA_BIN" "${java_opts[@]}" -Duser.timezone=UTC -Dfile.encoding=UTF-8 \
  -Dcom.linecorp.armeria.warnNettyVersions=false -cp "$CONFIG_DIR:$classpath" "$MAIN_CLASS" \
  </dev/null >>"$log_file" 2>&1 &
pid=$!

graphql_ready() {
  curl -sS -m 5 -o - -H 'content-type: application/json' \
    -d '{"query":"query { listServices { id name } }"}' \
    "http://$shown_host:$rest_port/graphql" 2>/dev/null | grep -q '"listServices"'
}
deadline=$((SECONDS + ${OAP_READY_TIMEOUT:-300}))
until graphql_ready; do
  if ! kill -0 "$pid" 2>/dev/null; then
    wait "$pid" && rc=0 || rc=$?
    log_tail 80
    die "the OAP exited with status $rc before it was ready"
  fi
  if [ "$SECONDS" -ge "$deadline" ]; then
    log_tail 80
    kill -KILL "$pid" 2>/dev/null || true
    die "the OAP did not answer GraphQL within ${OAP_READY_TIMEOUT:-300} s"
  fi
  sleep 1 & wait $! || true # a signal interrupts the wait at once
done
say "ready in $((SECONDS - started)) s"
echo "oap grpc=$shown_host:$grpc_port rest=http://$shown_host:$rest_port"

# --- 4. foreground until the JVM exits or we are told to stop -------------------------------------
rc=0
wait "$pid" || rc=$?
log_tail 80
die "the OAP exited on its own with status $rc"
