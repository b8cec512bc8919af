/*
 * mockbroker.c - starts librdkafka's mock cluster and creates the satisfy
 * topics on it (see include/satisfy/mockbroker.h).
 *
 * The mock cluster lives inside an rd_kafka_t handle (its threads belong to
 * that handle), so we keep a producer handle that never produces.
 */
#include "satisfy/mockbroker.h"

#include <stdlib.h>
#include <string.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "satisfy/kafka.h"

struct sf_mockbroker {
    rd_kafka_t *rk;
    rd_kafka_mock_cluster_t *mc;
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
    char errstr[512];
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    /* The holder handle never connects anywhere: no notice about the missing
     * bootstrap.servers (warnings and errors still show). */
    rd_kafka_conf_set(conf, "log_level", "4", errstr, sizeof errstr);
    mb->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof errstr);
    if (!mb->rk) {
        sf_errf(err, "mock broker: cannot create handle: %s", errstr);
        rd_kafka_conf_destroy(conf);
        free(mb);
        return NULL;
    }
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
