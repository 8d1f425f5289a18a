#!/usr/bin/env bash
# Runs before `npm test` (the `pretest` script): makes sure the system peers the integration tests
# use are installed and answering, so `npm ci && npm test` works on a fresh Debian/Ubuntu machine.
#   - gcc + librdkafka-dev: the Kafka tests build librdkafka's mock cluster
#     (test/support/kafka-mock/mock-cluster.c), a real Kafka protocol endpoint.
#   - Redis on 127.0.0.1:6379 (or SKYBRIDGE_TEST_REDIS_URL): durable retry (BullMQ).
#   - RabbitMQ on 127.0.0.1:5672 (guest/guest): the golden comparison with the SkyWalking Node
#     agent's amqplib plugin.
#   - openssl: the TLS tests make their CA, server and client certificates with it.
#   - chromium: the status page and trace view are tested in a real browser (playwright-core drives
#     Debian's /usr/bin/chromium; nothing is downloaded by npm).
#   - docker-compose: test/e2e/deploy-manifests.test.ts checks docker-compose.yaml with its
#     `config` command (no Docker engine is needed or used).
#   - Java 17 + Maven: scripts/oap.sh and scripts/kafka.sh resolve a real SkyWalking OAP and a real
#     Kafka broker from Maven Central (docs/real-peers.md).
# Each is installed (apt-get, as root or through sudo) or started only when missing.
set -euo pipefail

export DEBIAN_FRONTEND=noninteractive
export PATH="$PATH:/usr/sbin:/sbin"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi

apt_updated=0
apt_install() {
  if [ -n "$SUDO" ] && ! sudo -n true 2>/dev/null; then
    echo "test setup: $* missing and this user cannot run apt-get (no root, no passwordless sudo)." >&2
    echo "  Fix: sudo apt-get install -y $*   then run npm test again." >&2
    exit 1
  fi
  if [ "$apt_updated" -eq 0 ]; then $SUDO apt-get update -qq; apt_updated=1; fi
  echo "test setup: installing $*"
  $SUDO apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
wait_for_port() { # port seconds name
  for _ in $(seq 1 "$(($2 * 5))"); do port_open "$1" && return 0; sleep 0.2; done
  echo "test setup: $3 did not answer on 127.0.0.1:$1 within $2 s" >&2
  return 1
}

command -v gcc >/dev/null || apt_install gcc libc6-dev
[ -f /usr/include/librdkafka/rdkafka_mock.h ] || apt_install librdkafka-dev
command -v openssl >/dev/null || apt_install openssl
[ -x /usr/bin/chromium ] || apt_install chromium fonts-liberation
command -v docker-compose >/dev/null || apt_install docker-compose
command -v java >/dev/null || apt_install default-jre-headless
command -v mvn >/dev/null || apt_install maven
# Resolve the OAP's and the broker's jars now (a few minutes on a fresh machine, nothing once
# cached), so the first test that starts one does not spend its timeout in Maven.
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
bash "$here/oap.sh" --prepare
bash "$here/kafka.sh" --prepare

if [ -z "${SKYBRIDGE_TEST_REDIS_URL:-}" ] && ! port_open 6379; then
  command -v redis-server >/dev/null || apt_install redis-server
  # The Debian package may have started one as a service just now.
  if ! wait_for_port 6379 3 redis-server 2>/dev/null; then
    echo "test setup: starting redis-server on 127.0.0.1:6379"
    redis-server --daemonize yes --port 6379 --bind 127.0.0.1 --save "" --appendonly no >/dev/null
    wait_for_port 6379 20 redis-server
  fi
fi

if ! port_open 5672; then
  command -v rabbitmq-server >/dev/null || apt_install rabbitmq-server
  # It takes a few seconds to open 5672 after the package started it.
  if ! wait_for_port 5672 10 rabbitmq-server 2>/dev/null; then
    echo "test setup: starting rabbitmq-server on 127.0.0.1:5672"
    $SUDO rabbitmq-server -detached
    wait_for_port 5672 90 rabbitmq-server
  fi
fi
