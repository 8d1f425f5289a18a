/*
 * A librdkafka mock Kafka cluster as a standalone process, for tests (Debian librdkafka-dev).
 *
 *   mock-cluster [--brokers N] [topic[:partitions] ...]
 *
 * Creates a cluster of N brokers (default 1, ids 1..N), creates each topic (default 1 partition,
 * replication factor min(N, 3)), prints one line
 *
 *   bootstrap <host:port,host:port,...>
 *
 * on stdout, then reads commands on stdin, one per line, answering each with "ok" or "error <why>":
 *
 *   down <broker-id|all>   disconnect a broker and refuse new connections (no leader change)
 *   up <broker-id|all>     accept connections again
 *   topic <name> [partitions]  create a topic
 *   quit                   destroy the cluster and exit 0 (so does end of input: a test runner that
 *                          dies takes the cluster with it)
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

/* librdkafka logs through this; only warnings and worse, on stderr, so stdout stays a protocol. */
static void log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf) {
        (void)rk;
        if (level <= 4) fprintf(stderr, "mock-cluster %s: %s\n", fac, buf);
}

static int parse_int(const char *s, long lo, long hi, long *out) {
        char *end;
        errno = 0;
        long v = strtol(s, &end, 10);
        if (errno || end == s || *end || v < lo || v > hi) return -1;
        *out = v;
        return 0;
}

static int create_topic(rd_kafka_mock_cluster_t *mc, const char *name, long partitions, int brokers, char *why, size_t whylen) {
        int rf = brokers < 3 ? brokers : 3;
        rd_kafka_resp_err_t err = rd_kafka_mock_topic_create(mc, name, (int)partitions, rf);
        if (err) {
                snprintf(why, whylen, "topic %s: %s", name, rd_kafka_err2str(err));
                return -1;
        }
        return 0;
}

int main(int argc, char **argv) {
        long brokers = 1;
        int first_topic = 1;
        char why[512];

        signal(SIGPIPE, SIG_IGN);
        if (argc > 2 && strcmp(argv[1], "--brokers") == 0) {
                if (parse_int(argv[2], 1, 64, &brokers)) {
                        fprintf(stderr, "mock-cluster: --brokers wants 1..64, got %s\n", argv[2]);
                        return 2;
                }
                first_topic = 3;
        }

        rd_kafka_conf_t *conf = rd_kafka_conf_new();
        rd_kafka_conf_set_log_cb(conf, log_cb);
        /* The handle only hosts the cluster's threads; it never connects anywhere itself. */
        rd_kafka_t *rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, why, sizeof(why));
        if (!rk) {
                fprintf(stderr, "mock-cluster: rd_kafka_new: %s\n", why);
                return 1;
        }
        rd_kafka_mock_cluster_t *mc = rd_kafka_mock_cluster_new(rk, (int)brokers);
        if (!mc) {
                fprintf(stderr, "mock-cluster: rd_kafka_mock_cluster_new failed\n");
                rd_kafka_destroy(rk);
                return 1;
        }

        for (int i = first_topic; i < argc; i++) {
                char name[256];
                long partitions = 1;
                const char *colon = strrchr(argv[i], ':');
                size_t len = colon ? (size_t)(colon - argv[i]) : strlen(argv[i]);
                if (len == 0 || len >= sizeof(name) || (colon && parse_int(colon + 1, 1, 10000, &partitions))) {
                        fprintf(stderr, "mock-cluster: bad topic argument %s (want name[:partitions])\n", argv[i]);
                        rd_kafka_mock_cluster_destroy(mc);
                        rd_kafka_destroy(rk);
                        return 2;
                }
                memcpy(name, argv[i], len);
                name[len] = '\0';
                if (create_topic(mc, name, partitions, (int)brokers, why, sizeof(why))) {
                        fprintf(stderr, "mock-cluster: %s\n", why);
                        rd_kafka_mock_cluster_destroy(mc);
                        rd_kafka_destroy(rk);
                        return 1;
                }
        }

        printf("bootstrap %s\n", rd_kafka_mock_cluster_bootstraps(mc));
        fflush(stdout);

        char line[1024];
        while (fgets(line, sizeof(line), stdin)) {
                char cmd[32] = "", arg[256] = "", arg2[32] = "";
                int n = sscanf(line, "%31s %255s %31s", cmd, arg, arg2);
                if (n <= 0) continue;
                if (strcmp(cmd, "quit") == 0) break;
                if ((strcmp(cmd, "down") == 0 || strcmp(cmd, "up") == 0) && n >= 2) {
                        long id;
                        if (strcmp(arg, "all") == 0) id = -1;
                        else if (parse_int(arg, 1, brokers, &id)) {
                                printf("error no broker %s (brokers are 1..%ld)\n", arg, brokers);
                                fflush(stdout);
                                continue;
                        }
                        rd_kafka_resp_err_t err = cmd[0] == 'd' ? rd_kafka_mock_broker_set_down(mc, (int32_t)id)
                                                                : rd_kafka_mock_broker_set_up(mc, (int32_t)id);
                        if (err) printf("error %s\n", rd_kafka_err2str(err));
                        else printf("ok\n");
                } else if (strcmp(cmd, "topic") == 0 && n >= 2) {
                        long partitions = 1;
                        if (n >= 3 && parse_int(arg2, 1, 10000, &partitions)) printf("error bad partition count %s\n", arg2);
                        else if (create_topic(mc, arg, partitions, (int)brokers, why, sizeof(why))) printf("error %s\n", why);
                        else printf("ok\n");
                } else {
                        printf("error unknown command (down <id|all>, up <id|all>, topic <name> [partitions], quit)\n");
                }
                fflush(stdout);
        }

        rd_kafka_mock_cluster_destroy(mc);
        rd_kafka_destroy(rk);
        return 0;
}
