#!/usr/bin/env bash
# Runs a real Apache Kafka 4.x broker on this machine, without Docker: one JVM in KRaft mode that is
# both broker and controller, built from Maven Central artifacts.
#
#   scripts/kafka.sh [--port P] [--data-dir D] [--log F] [--host H] [--partitions N]
#                    [--timeout S] [--exit-on-stdin-close] [--prepare]
#                    [--sasl-ssl-port P --tls-pem F --sasl-user NAME:PASSWORD]
#
# Stays in the foreground. Once the broker has acknowledged a produce request it prints exactly one
# line on stdout,
#     kafka bootstrap=HOST:PORT
# and nothing else there (progress and errors go to stderr, the broker's own log to the log file).
# SIGTERM / SIGINT / SIGHUP stop the broker cleanly (forwarded to the JVM, then waited for); exit
# status 0. (SIGKILL cannot be forwarded: kill the process group, or the JVM is left running.)
#
#   --port P              client (PLAINTEXT) port; default: the one a previous run with the same
#                         --data-dir used, else a free one
#   --data-dir D          keep the broker's data (and its ports) in D across runs; default: a temp
#                         directory removed on exit
#   --log F               the broker's log file; default: D/server.log
#   --host H              address to listen on and advertise (default 127.0.0.1)
#   --partitions N        num.partitions for auto-created topics (default 3)
#   --timeout S           give up when not ready after S seconds (default 150)
#   --exit-on-stdin-close stop the broker when standard input reaches end of file (for a parent
#                         process that may die without stopping us: its end of the pipe closes)
#   --prepare             only resolve and cache the classpath, then exit (warms the cache)
#   --sasl-ssl-port P     also listen on P with SASL_SSL (TLS, then SASL PLAIN, SCRAM-SHA-256 or
#                         SCRAM-SHA-512), as managed Kafka services do; needs --tls-pem (the
#                         broker's PKCS#8 private key and certificate chain in one PEM file) and
#                         --sasl-user (one user, known to all three mechanisms; set on the first
#                         start of a data dir, when the storage is formatted)
#
# Environment:
#   SKYBRIDGE_KAFKA_VERSION  org.apache.kafka:kafka_2.13 version (default 4.4.0; any 4.x)
#   SKYBRIDGE_LOG4J_VERSION  log4j2 version for the logging backend (default 2.24.3)
#   SKYBRIDGE_CACHE          cache root (default ~/.cache/skybridge); the resolved classpath is kept
#                            in $SKYBRIDGE_CACHE/kafka-<version>/classpath.txt, the jars in ~/.m2,
#                            so a second run needs no network
#   KAFKA_JAVA_OPTS          replaces the default JVM heap/GC options (-Xms128m -Xmx512m, G1)
#   JAVA_HOME                Java 17+ (else `java` on PATH)
set -euo pipefail
# Our parent may be gone (its end of our stderr closed): a write must not kill us before the JVM
# is stopped, so SIGPIPE is ignored and messages are best effort.
trap '' PIPE

VERSION="${SKYBRIDGE_KAFKA_VERSION:-4.4.0}"
LOG4J_VERSION="${SKYBRIDGE_LOG4J_VERSION:-2.24.3}"
CACHE_DIR="${SKYBRIDGE_CACHE:-$HOME/.cache/skybridge}/kafka-$VERSION"
CLASSPATH_FILE="$CACHE_DIR/classpath.txt"
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

HOST=127.0.0.1
PORT=""
DATA_DIR=""
LOG_FILE=""
PARTITIONS=3
TIMEOUT=150
WATCH_STDIN=0
PREPARE_ONLY=0
STOP_TIMEOUT=30
SASL_SSL_PORT=
TLS_PEM=
SASL_USER=

say() { echo "kafka.sh: $*" >&2 2>/dev/null || true; }
die() { say "$*"; exit 1; }
usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//' >&2; }

while [ $# -gt 0 ]; do
  case "$1" in
    --port) PORT="${2:?--port needs a value}"; shift 2 ;;
    --data-dir) DATA_DIR="${2:?--data-dir needs a value}"; shift 2 ;;
    --log) LOG_FILE="${2:?--log needs a value}"; shift 2 ;;
    --host) HOST="${2:?--host needs a value}"; shift 2 ;;
    --partitions) PARTITIONS="${2:?--partitions needs a value}"; shift 2 ;;
    --timeout) TIMEOUT="${2:?--timeout needs a value}"; shift 2 ;;
    --exit-on-stdin-close) WATCH_STDIN=1; shift ;;
    --prepare) PREPARE_ONLY=1; shift ;;
    --sasl-ssl-port) SASL_SSL_PORT="${2:?--sasl-ssl-port needs a value}"; shift 2 ;;
    --tls-pem) TLS_PEM="${2:?--tls-pem needs a value}"; shift 2 ;;
    --sasl-user) SASL_USER="${2:?--sasl-user needs NAME:PASSWORD}"; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    *) usage; die "unknown argument: $1" ;;
  esac
done
case "$PORT" in ''|[0-9]*) ;; *) die "--port must be a number: $PORT" ;; esac
if [ -n "$SASL_SSL_PORT" ]; then
  [ -n "$TLS_PEM" ] && [ -f "$TLS_PEM" ] || die "--sasl-ssl-port needs --tls-pem with an existing PEM file"
  case "$SASL_USER" in ?*:?*) ;; *) die "--sasl-ssl-port needs --sasl-user NAME:PASSWORD" ;; esac
fi
SASL_NAME="${SASL_USER%%:*}"
SASL_PASSWORD="${SASL_USER#*:}"

# ---------------------------------------------------------------------------------------------
# Process bookkeeping. Every long step runs as a background child and is waited for, so a
# SIGTERM/SIGINT is handled at once (bash defers traps while a foreground command runs).
CHILD=""        # the current helper process (mvn, StorageTool, readiness check)
JAVA_PID=""     # the broker
WATCHER=""      # the stdin watcher
TEMP_DIR=""     # removed on exit when we created the data dir
STOPPED=0
FAILED=0        # set by log_tail: keep a temp data dir for inspection

alive() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null; }

# Runs "$@" in the background and waits; returns its exit status.
run_child() {
  "$@" &
  CHILD=$!
  local rc=0
  wait "$CHILD" || rc=$?
  CHILD=""
  return "$rc"
}

stop_broker() {
  alive "$JAVA_PID" || return 0
  say "stopping the broker (pid $JAVA_PID)"
  kill -TERM "$JAVA_PID" 2>/dev/null || true
  local waited=0
  while alive "$JAVA_PID" && [ "$waited" -lt $((STOP_TIMEOUT * 5)) ]; do sleep 0.2; waited=$((waited + 1)); done
  if alive "$JAVA_PID"; then
    say "broker still running after ${STOP_TIMEOUT}s; killing it"
    kill -KILL "$JAVA_PID" 2>/dev/null || true
  fi
  wait "$JAVA_PID" 2>/dev/null || true
  say "broker stopped"
}

cleanup() {
  set +e
  [ "$STOPPED" -eq 1 ] && return 0
  STOPPED=1
  if alive "$CHILD"; then kill -TERM "$CHILD" 2>/dev/null || true; wait "$CHILD" 2>/dev/null || true; fi
  stop_broker
  if alive "$WATCHER"; then kill "$WATCHER" 2>/dev/null || true; fi
  if [ -n "$TEMP_DIR" ]; then
    if [ "$FAILED" -eq 1 ]; then say "kept $TEMP_DIR for inspection"; else rm -rf "$TEMP_DIR"; fi
  fi
}

on_signal() {
  trap - TERM INT HUP
  cleanup
  exit 0
}
trap on_signal TERM INT HUP
trap cleanup EXIT

if [ "$WATCH_STDIN" -eq 1 ]; then
  # `read` is a builtin: the watcher is a single subshell, killed in cleanup.
  ( while IFS= read -r _; do :; done; kill -TERM $$ 2>/dev/null ) <&0 &
  WATCHER=$!
fi

# On failure: the broker's errors, then the end of its log, on stderr; a temp data dir is kept.
log_tail() {
  FAILED=1
  [ -n "$LOG_FILE" ] && [ -s "$LOG_FILE" ] || return 0
  local errors='^\[[^]]*\] (ERROR|FATAL) |^(Caused by: )?[a-zA-Z0-9_.$]+(Exception|Error): '
  if grep -qE "$errors" "$LOG_FILE"; then
    say "errors in $LOG_FILE:"
    grep -E "$errors" "$LOG_FILE" | tail -n 8 | cut -c1-400 | sed 's/^/  | /' >&2
  fi
  say "last lines of $LOG_FILE:"
  tail -n "${1:-20}" "$LOG_FILE" | cut -c1-400 | sed 's/^/  | /' >&2
}

# ---------------------------------------------------------------------------------------------
# Java and the classpath.
if [ -n "${JAVA_HOME:-}" ] && [ -x "$JAVA_HOME/bin/java" ]; then JAVA="$JAVA_HOME/bin/java"; else JAVA="$(command -v java || true)"; fi
[ -n "$JAVA" ] || die "no java found (install a JDK 17+, e.g. apt-get install -y openjdk-17-jdk-headless, or set JAVA_HOME)"

classpath_complete() {
  [ -s "$CLASSPATH_FILE" ] || return 1
  local IFS=:
  local jar
  for jar in $(cat "$CLASSPATH_FILE"); do [ -f "$jar" ] || return 1; done
}

write_pom() {
  cat >"$CACHE_DIR/pom.xml" <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<!-- Written by scripts/kafka.sh: the runtime classpath of a Kafka $VERSION broker. -->
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.skybridge</groupId>
  <artifactId>kafka-broker-runtime</artifactId>
  <version>$VERSION</version>
  <packaging>pom</packaging>
  <dependencies>
    <!-- The broker (kafka.Kafka) and kafka.tools.StorageTool, with their runtime dependencies. -->
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka_2.13</artifactId>
      <version>$VERSION</version>
    </dependency>
    <!-- The published poms bring only slf4j-api; the distribution logs through log4j2. -->
    <dependency>
      <groupId>org.apache.logging.log4j</groupId>
      <artifactId>log4j-core</artifactId>
      <version>$LOG4J_VERSION</version>
    </dependency>
    <dependency>
      <groupId>org.apache.logging.log4j</groupId>
      <artifactId>log4j-slf4j-impl</artifactId>
      <version>$LOG4J_VERSION</version>
    </dependency>
  </dependencies>
  <build>
    <plugins>
      <plugin>
        <groupId>org.apache.maven.plugins</groupId>
        <artifactId>maven-dependency-plugin</artifactId>
        <version>3.6.1</version>
      </plugin>
    </plugins>
  </build>
</project>
EOF
}

resolve_classpath() {
  classpath_complete && return 0
  mkdir -p "$CACHE_DIR"
  command -v mvn >/dev/null || die "mvn not found (apt-get install -y maven)"
  # One resolver at a time per version: two test files starting on a cold cache share the work.
  exec 8>"$CACHE_DIR/.lock"
  run_child flock 8 || die "could not lock $CACHE_DIR/.lock"
  if ! classpath_complete; then
    write_pom
    local tmp="$CLASSPATH_FILE.$$.tmp" mvn_log="$CACHE_DIR/mvn.log"
    local mvn_args=(-B -f "$CACHE_DIR/pom.xml" dependency:build-classpath "-Dmdep.outputFile=$tmp" -Dmdep.pathSeparator=:)
    say "resolving org.apache.kafka:kafka_2.13:$VERSION with Maven (log: $mvn_log)"
    # Offline first: ~/.m2 may already hold every jar (only the classpath file was lost).
    if ! run_child mvn -o -q "${mvn_args[@]}" >"$mvn_log" 2>&1; then
      if ! run_child mvn "${mvn_args[@]}" >"$mvn_log" 2>&1; then
        rm -f "$tmp"
        grep -E '^\[ERROR\]' "$mvn_log" | head -n 20 >&2 || tail -n 20 "$mvn_log" >&2
        die "Maven could not resolve org.apache.kafka:kafka_2.13:$VERSION (full log: $mvn_log)"
      fi
    fi
    mv "$tmp" "$CLASSPATH_FILE"
  fi
  flock -u 8
  exec 8>&-
  classpath_complete || die "classpath in $CLASSPATH_FILE names missing jars; delete it and retry"
}

resolve_classpath
if [ "$PREPARE_ONLY" -eq 1 ]; then
  say "classpath for Kafka $VERSION cached in $CLASSPATH_FILE"
  exit 0
fi
CLASSPATH_JARS="$(cat "$CLASSPATH_FILE")"
# The readiness check produces with the repo's kafkajs.
(cd "$HERE" && node -e 'require.resolve("kafkajs")') >/dev/null 2>&1 ||
  die "node with the repo's kafkajs is needed for the readiness check (run npm ci in $(dirname "$HERE"))"

# ---------------------------------------------------------------------------------------------
# Data directory, ports, configuration.
if [ -z "$DATA_DIR" ]; then
  TEMP_DIR="$(mktemp -d "${TMPDIR:-/tmp}/skybridge-kafka.XXXXXX")"
  DATA_DIR="$TEMP_DIR"
fi
mkdir -p "$DATA_DIR"
DATA_DIR="$(cd "$DATA_DIR" && pwd)"
[ -n "$LOG_FILE" ] || LOG_FILE="$DATA_DIR/server.log"
mkdir -p "$(dirname "$LOG_FILE")"
LOG_FILE="$(cd "$(dirname "$LOG_FILE")" && pwd)/$(basename "$LOG_FILE")"
KAFKA_LOG_DIRS="$DATA_DIR/kafka-logs"
STATE_FILE="$DATA_DIR/ports"

# Free TCP ports on HOST, one per line (the OS picks them; a tiny race until Kafka binds them).
free_ports() {
  node -e '
    const net = require("node:net");
    const [host, n] = [process.argv[1], Number(process.argv[2])];
    const servers = [];
    (async () => {
      for (let i = 0; i < n; i++) {
        const s = net.createServer();
        await new Promise((ok, fail) => { s.once("error", fail); s.listen(0, host, ok); });
        servers.push(s);
      }
      for (const s of servers) console.log(s.address().port);
      for (const s of servers) s.close();
    })().catch((e) => { console.error(e.message); process.exit(1); });
  ' "$HOST" "$1"
}
port_free() {
  node -e '
    const s = require("node:net").createServer();
    s.once("error", () => process.exit(1));
    s.listen(Number(process.argv[2]), process.argv[1], () => s.close(() => process.exit(0)));
  ' "$HOST" "$1"
}

if [ -n "$PORT" ] && ! port_free "$PORT"; then die "port $HOST:$PORT is in use"; fi
PREV_PORT="" PREV_CONTROLLER_PORT=""
if [ -f "$STATE_FILE" ]; then
  PREV_PORT="$(sed -n 's/^port=//p' "$STATE_FILE")"
  PREV_CONTROLLER_PORT="$(sed -n 's/^controller_port=//p' "$STATE_FILE")"
fi
if [ -z "$PORT" ] && [ -n "$PREV_PORT" ] && port_free "$PREV_PORT"; then PORT="$PREV_PORT"; fi
CONTROLLER_PORT=""
if [ -n "$PREV_CONTROLLER_PORT" ] && [ "$PREV_CONTROLLER_PORT" != "$PORT" ] && port_free "$PREV_CONTROLLER_PORT"; then
  CONTROLLER_PORT="$PREV_CONTROLLER_PORT"
fi
mapfile -t PICKED < <(free_ports 3)
[ "${#PICKED[@]}" -eq 3 ] || die "could not find free ports on $HOST"
for p in "${PICKED[@]}"; do
  if [ -z "$PORT" ] && [ "$p" != "$CONTROLLER_PORT" ]; then PORT="$p"
  elif [ -z "$CONTROLLER_PORT" ] && [ "$p" != "$PORT" ]; then CONTROLLER_PORT="$p"
  fi
done
printf 'port=%s\ncontroller_port=%s\n' "$PORT" "$CONTROLLER_PORT" >"$STATE_FILE"

NODE_ID=1
PROPS="$DATA_DIR/server.properties"
cat >"$PROPS" <<EOF
# Written by scripts/kafka.sh on every start; docs/real-peers.md says why each line is here.
process.roles=broker,controller
node.id=$NODE_ID
controller.quorum.voters=$NODE_ID@$HOST:$CONTROLLER_PORT
listeners=PLAINTEXT://$HOST:$PORT,CONTROLLER://$HOST:$CONTROLLER_PORT${SASL_SSL_PORT:+,SASL_SSL://$HOST:$SASL_SSL_PORT}
advertised.listeners=PLAINTEXT://$HOST:$PORT${SASL_SSL_PORT:+,SASL_SSL://$HOST:$SASL_SSL_PORT}
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SASL_SSL:SASL_SSL
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
log.dirs=$KAFKA_LOG_DIRS

num.partitions=$PARTITIONS
default.replication.factor=1
min.insync.replicas=1
auto.create.topics.enable=true
delete.topic.enable=true

offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0

num.network.threads=2
num.io.threads=2
background.threads=2
num.recovery.threads.per.data.dir=1
log.cleaner.threads=1
EOF
if [ -n "$SASL_SSL_PORT" ]; then
  cat >>"$PROPS" <<EOF

# The SASL_SSL listener (--sasl-ssl-port): TLS from a PEM file, then PLAIN or SCRAM.
ssl.keystore.type=PEM
ssl.keystore.location=$TLS_PEM
sasl.enabled.mechanisms=PLAIN,SCRAM-SHA-256,SCRAM-SHA-512
listener.name.sasl_ssl.plain.sasl.jaas.config=org.apache.kafka.common.security.plain.PlainLoginModule required user_$SASL_NAME="$SASL_PASSWORD";
listener.name.sasl_ssl.scram-sha-256.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
listener.name.sasl_ssl.scram-sha-512.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;
EOF
fi

LOG4J_CONFIG="$DATA_DIR/log4j2.properties"
cat >"$LOG4J_CONFIG" <<EOF
# Written by scripts/kafka.sh: everything to one file, nothing to the console.
status = warn
appender.file.type = File
appender.file.name = file
appender.file.fileName = $LOG_FILE
appender.file.append = true
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = file
logger.statechange.name = state.change.logger
logger.statechange.level = WARN
logger.request.name = kafka.request.logger
logger.request.level = WARN
EOF

# shellcheck disable=SC2206 # KAFKA_JAVA_OPTS is a list of words, split on purpose
HEAP_OPTS=(${KAFKA_JAVA_OPTS:--Xms128m -Xmx512m -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:+ExplicitGCInvokesConcurrent})
COMMON_OPTS=(
  -Djava.awt.headless=true
  "-Dlog4j2.configurationFile=$LOG4J_CONFIG"
  -Dlog4j2.shutdownHookEnabled=false   # keep logging through Kafka's own shutdown hook
  "-Dkafka.logs.dir=$(dirname "$LOG_FILE")"
  -cp "$CLASSPATH_JARS"
)

# ---------------------------------------------------------------------------------------------
# Format (first start of this data dir only), start, wait for produce, announce.
say "Kafka $VERSION: data $DATA_DIR, log $LOG_FILE"
if [ ! -f "$KAFKA_LOG_DIRS/meta.properties" ]; then
  # A cluster id is 16 random bytes, base64url without padding (what `random-uuid` prints).
  CLUSTER_ID=""
  while [ -z "$CLUSTER_ID" ] || [ "${CLUSTER_ID:0:1}" = "-" ]; do
    CLUSTER_ID="$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')"
  done
  say "formatting $KAFKA_LOG_DIRS (cluster id $CLUSTER_ID)"
  # SCRAM credentials live in the cluster metadata: KRaft takes them at format time.
  SCRAM_ARGS=()
  if [ -n "$SASL_SSL_PORT" ]; then
    for m in SCRAM-SHA-256 SCRAM-SHA-512; do SCRAM_ARGS+=(--add-scram "$m=[name=$SASL_NAME,password=$SASL_PASSWORD]"); done
  fi
  if ! run_child "$JAVA" -Xms64m -Xmx256m -XX:TieredStopAtLevel=1 "${COMMON_OPTS[@]}" \
      kafka.tools.StorageTool format -t "$CLUSTER_ID" -c "$PROPS" "${SCRAM_ARGS[@]}" >>"$LOG_FILE" 2>&1; then
    log_tail 20
    die "kafka.tools.StorageTool format failed"
  fi
fi

START_MS=$(date +%s%3N)
"$JAVA" "${HEAP_OPTS[@]}" "${COMMON_OPTS[@]}" kafka.Kafka "$PROPS" >>"$LOG_FILE" 2>&1 &
JAVA_PID=$!
say "broker pid $JAVA_PID, client port $PORT, controller port $CONTROLLER_PORT"

ready_rc=0
run_child node "$HERE/kafka-ready.mjs" "$HOST:$PORT" "$TIMEOUT" "$JAVA_PID" >&2 || ready_rc=$?
if [ "$ready_rc" -ne 0 ]; then
  if ! alive "$JAVA_PID"; then say "broker exited during start"
  elif [ "$ready_rc" -eq 1 ]; then say "broker not taking produce requests after ${TIMEOUT}s"
  else say "readiness check failed (status $ready_rc)"
  fi
  log_tail 20
  exit 1
fi
say "ready in $(( $(date +%s%3N) - START_MS )) ms"
echo "kafka bootstrap=$HOST:$PORT"

rc=0
wait "$JAVA_PID" || rc=$?
# Only reached when the broker exited by itself (a stop request exits from on_signal).
JAVA_PID=""
say "broker exited on its own (status $rc)"
log_tail 20
exit $((rc == 0 ? 1 : rc))
