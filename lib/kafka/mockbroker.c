/*
 * mockbroker.c - starts librdkafka's mock cluster and creates the satisfy
 * topics on it (see satisfy/mockbroker.h).
 *
 * The mock cluster lives inside an rd_kafka_t handle (its threads belong to
 * that handle), so we keep a producer handle that never produces.
 *
 * sf_mockbroker_control() is the fault-injection side: one text command per
 * call (a broker down or up, added round-trip time, errors pushed onto the
 * next requests of an API), mapped onto librdkafka's rdkafka_mock.h calls,
 * so that satisfy-broker can take them over its control socket and tests
 * can break the cluster under the workers.
 */
#include "satisfy/mockbroker.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "satisfy/kafka.h"

struct sf_mockbroker {
    rd_kafka_t *rk;
    rd_kafka_mock_cluster_t *mc;
    int n_brokers;
    char *bootstraps;
};

sf_mockbroker *sf_mockbroker_start(int n_brokers, int partitions, sf_err *err)
{
    if (n_brokers < 1 || n_brokers > 16) {
        sf_errf(err, "mock broker: --brokers %d: expected 1..16", n_brokers);
        return NULL;
    }
    if (partitions < 1 || partitions > 1000) {
        sf_errf(err, "mock broker: --partitions %d: expected 1..1000", partitions);
        return NULL;
    }
    sf_mockbroker *mb = calloc(1, sizeof *mb);
    if (!mb) {
        sf_errf(err, "mock broker: out of memory");
        return NULL;
    }
    /* kafka.h's embedded broker role: the holder handle never connects
     * anywhere (no notice about the missing bootstrap.servers), and the mock
     * brokers' sockets take its settings (TCP_NODELAY) */
    sf_kafka_client_opts ko = {.role = SF_KAFKA_EMBEDDED_BROKER};
    mb->rk = sf_kafka_client_new(&ko, err);
    if (!mb->rk) {
        sf_err_wrap(err, "mock broker");
        free(mb);
        return NULL;
    }
    mb->n_brokers = n_brokers;
    mb->mc = rd_kafka_mock_cluster_new(mb->rk, n_brokers);
    if (!mb->mc) {
        sf_errf(err, "mock broker: cannot start a %d-broker mock cluster on loopback", n_brokers);
        sf_mockbroker_stop(mb);
        return NULL;
    }
    for (int i = 0; i < SF_TOPIC_COUNT; i++) {
        int p = strcmp(sf_topics[i], SF_TOPIC_MODELS) == 0 ? 1 : partitions;
        int rf = n_brokers < 3 ? n_brokers : 3;
        rd_kafka_resp_err_t e = rd_kafka_mock_topic_create(mb->mc, sf_topics[i], p, rf);
        if (e) {
            sf_errf(err, "mock broker: cannot create topic %s: %s", sf_topics[i],
                    rd_kafka_err2str(e));
            sf_mockbroker_stop(mb);
            return NULL;
        }
    }
    mb->bootstraps = strdup(rd_kafka_mock_cluster_bootstraps(mb->mc));
    if (!mb->bootstraps) {
        sf_errf(err, "mock broker: out of memory");
        sf_mockbroker_stop(mb);
        return NULL;
    }
    return mb;
}

const char *sf_mockbroker_bootstraps(const sf_mockbroker *mb)
{
    return mb->bootstraps;
}

void sf_mockbroker_stop(sf_mockbroker *mb)
{
    if (!mb)
        return;
    if (mb->mc)
        rd_kafka_mock_cluster_destroy(mb->mc);
    if (mb->rk)
        rd_kafka_destroy(mb->rk);
    free(mb->bootstraps);
    free(mb);
}

/* Kafka protocol API keys by number (the names of the Kafka protocol guide). */
static const char *const api_names[] = {"Produce",
                                        "Fetch",
                                        "ListOffsets",
                                        "Metadata",
                                        "LeaderAndIsr",
                                        "StopReplica",
                                        "UpdateMetadata",
                                        "ControlledShutdown",
                                        "OffsetCommit",
                                        "OffsetFetch",
                                        "FindCoordinator",
                                        "JoinGroup",
                                        "Heartbeat",
                                        "LeaveGroup",
                                        "SyncGroup",
                                        "DescribeGroups",
                                        "ListGroups",
                                        "SaslHandshake",
                                        "ApiVersions",
                                        "CreateTopics",
                                        "DeleteTopics",
                                        "DeleteRecords",
                                        "InitProducerId",
                                        "OffsetForLeaderEpoch",
                                        "AddPartitionsToTxn",
                                        "AddOffsetsToTxn",
                                        "EndTxn",
                                        "WriteTxnMarkers",
                                        "TxnOffsetCommit",
                                        "DescribeAcls",
                                        "CreateAcls",
                                        "DeleteAcls",
                                        "DescribeConfigs",
                                        "AlterConfigs",
                                        "AlterReplicaLogDirs",
                                        "DescribeLogDirs",
                                        "SaslAuthenticate",
                                        "CreatePartitions",
                                        "CreateDelegationToken",
                                        "RenewDelegationToken",
                                        "ExpireDelegationToken",
                                        "DescribeDelegationToken",
                                        "DeleteGroups",
                                        "ElectLeaders",
                                        "IncrementalAlterConfigs",
                                        "AlterPartitionReassignments",
                                        "ListPartitionReassignments",
                                        "OffsetDelete",
                                        "DescribeClientQuotas",
                                        "AlterClientQuotas",
                                        "DescribeUserScramCredentials",
                                        "AlterUserScramCredentials"};
#define N_API ((int)(sizeof api_names / sizeof api_names[0]))

/* A whole-word integer in [min, max]. */
static int parse_long(const char *word, long min, long max, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(word, &end, 10);
    if (end == word || *end || errno || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

static int parse_api(const char *word, int16_t *key, sf_err *err)
{
    long v;
    if (parse_long(word, 0, 32767, &v) == 0) {
        *key = (int16_t)v;
        return 0;
    }
    for (int i = 0; i < N_API; i++)
        if (strcasecmp(word, api_names[i]) == 0) {
            *key = (int16_t)i;
            return 0;
        }
    return sf_errf(err,
                   "unknown ApiKey '%s' (a Kafka API name such as Produce, Fetch, EndTxn, "
                   "or its number)",
                   word);
}

static int parse_error(const char *word, rd_kafka_resp_err_t *code, sf_err *err)
{
    long v;
    if (parse_long(word, -200, 32767, &v) == 0) {
        *code = (rd_kafka_resp_err_t)v;
        return 0;
    }
    const char *name = word;
    if (strncasecmp(name, "RD_KAFKA_RESP_ERR_", 18) == 0)
        name += 18;
    const struct rd_kafka_err_desc *d;
    size_t n;
    rd_kafka_get_err_descs(&d, &n);
    for (size_t i = 0; i < n; i++)
        if (d[i].name && strcasecmp(name, d[i].name) == 0) {
            *code = d[i].code;
            return 0;
        }
    return sf_errf(err,
                   "unknown error '%s' (a Kafka error name such as "
                   "NOT_LEADER_FOR_PARTITION, or its number)",
                   word);
}

static int parse_broker(const sf_mockbroker *mb, const char *word, int32_t *id, sf_err *err)
{
    long v;
    if (parse_long(word, 1, mb->n_brokers, &v) < 0)
        return sf_errf(err, "broker '%s': expected a broker id in 1..%d", word, mb->n_brokers);
    *id = (int32_t)v;
    return 0;
}

#define MAX_WORDS 6

int sf_mockbroker_control(sf_mockbroker *mb, const char *line, char *reply, size_t len, sf_err *err)
{
    char buf[512];
    if (strlen(line) >= sizeof buf)
        return sf_errf(err, "command too long (%zu bytes, max %zu)", strlen(line), sizeof buf - 1);
    strcpy(buf, line);
    char *w[MAX_WORDS + 1];
    int n = 0;
    for (char *p = buf; *p;) {
        while (*p && isspace((unsigned char)*p))
            *p++ = '\0';
        if (!*p)
            break;
        if (n == MAX_WORDS + 1)
            return sf_errf(err, "too many words in '%s'", line);
        w[n++] = p;
        while (*p && !isspace((unsigned char)*p))
            p++;
    }
    if (n == 0)
        return sf_errf(err, "empty command (try 'help')");
    const char *cmd = w[0];
#define NARGS(lo, hi, usage)                                                                       \
    do {                                                                                           \
        if (n - 1 < (lo) || n - 1 > (hi))                                                          \
            return sf_errf(err, "usage: %s", usage);                                               \
    } while (0)
    rd_kafka_resp_err_t e = RD_KAFKA_RESP_ERR_NO_ERROR;
    int32_t id = 0;
    if (strcmp(cmd, "help") == 0) {
        snprintf(reply, len,
                 "ok commands: down ID | up ID | rtt ID MS | errors APIKEY ERR [N] | "
                 "clear APIKEY | leader TOPIC PART ID | brokers | help");
        return 0;
    }
    if (strcmp(cmd, "brokers") == 0) {
        NARGS(0, 0, "brokers");
        snprintf(reply, len, "ok %d", mb->n_brokers);
        return 0;
    }
    if (strcmp(cmd, "down") == 0 || strcmp(cmd, "up") == 0) {
        int down = cmd[0] == 'd';
        NARGS(1, 1, down ? "down ID" : "up ID");
        if (parse_broker(mb, w[1], &id, err) < 0)
            return -1;
        e = down ? rd_kafka_mock_broker_set_down(mb->mc, id)
                 : rd_kafka_mock_broker_set_up(mb->mc, id);
        if (e)
            return sf_errf(err, "%s %d: %s", cmd, (int)id, rd_kafka_err2str(e));
        snprintf(reply, len, "ok broker %d %s", (int)id, cmd);
        return 0;
    }
    if (strcmp(cmd, "rtt") == 0) {
        NARGS(2, 2, "rtt ID MS");
        long ms;
        if (parse_broker(mb, w[1], &id, err) < 0)
            return -1;
        if (parse_long(w[2], 0, 600000, &ms) < 0)
            return sf_errf(err, "rtt '%s': expected milliseconds in 0..600000", w[2]);
        e = rd_kafka_mock_broker_set_rtt(mb->mc, id, (int)ms);
        if (e)
            return sf_errf(err, "rtt %d: %s", (int)id, rd_kafka_err2str(e));
        snprintf(reply, len, "ok broker %d rtt %ld ms", (int)id, ms);
        return 0;
    }
    if (strcmp(cmd, "errors") == 0) {
        NARGS(2, 3, "errors APIKEY ERR [N]");
        int16_t key = 0;
        rd_kafka_resp_err_t code = RD_KAFKA_RESP_ERR_NO_ERROR;
        long cnt = 1;
        if (parse_api(w[1], &key, err) < 0 || parse_error(w[2], &code, err) < 0)
            return -1;
        if (n == 4 && parse_long(w[3], 1, 100000, &cnt) < 0)
            return sf_errf(err, "errors count '%s': expected 1..100000", w[3]);
        rd_kafka_resp_err_t *codes = malloc((size_t)cnt * sizeof *codes);
        if (!codes)
            return sf_errf(err, "out of memory");
        for (long i = 0; i < cnt; i++)
            codes[i] = code;
        rd_kafka_mock_push_request_errors_array(mb->mc, key, (size_t)cnt, codes);
        free(codes);
        snprintf(reply, len, "ok %ld x %s on %s", cnt, rd_kafka_err2name(code),
                 key < N_API ? api_names[key] : w[1]);
        return 0;
    }
    if (strcmp(cmd, "clear") == 0) {
        NARGS(1, 1, "clear APIKEY");
        int16_t key = 0;
        if (parse_api(w[1], &key, err) < 0)
            return -1;
        rd_kafka_mock_clear_request_errors(mb->mc, key);
        snprintf(reply, len, "ok cleared %s", key < N_API ? api_names[key] : w[1]);
        return 0;
    }
    if (strcmp(cmd, "leader") == 0) {
        NARGS(3, 3, "leader TOPIC PART ID");
        long part;
        if (parse_long(w[2], 0, 100000, &part) < 0)
            return sf_errf(err, "leader: partition '%s': expected a number", w[2]);
        if (parse_broker(mb, w[3], &id, err) < 0)
            return -1;
        /* the mock cluster would create an unknown topic on the fly */
        int known = 0;
        for (int i = 0; i < SF_TOPIC_COUNT && !known; i++)
            known = strcmp(w[1], sf_topics[i]) == 0;
        if (!known)
            return sf_errf(err, "leader: unknown topic '%s'", w[1]);
        e = rd_kafka_mock_partition_set_leader(mb->mc, w[1], (int32_t)part, id);
        if (e)
            return sf_errf(err, "leader %s [%ld] -> %d: %s", w[1], part, (int)id,
                           rd_kafka_err2str(e));
        snprintf(reply, len, "ok %s [%ld] led by broker %d", w[1], part, (int)id);
        return 0;
    }
#undef NARGS
    return sf_errf(err, "unknown command '%s' (try 'help')", cmd);
}
