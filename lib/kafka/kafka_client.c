/*
 * kafka_client.c - consumer and producer handles built in one call from
 * --brokers and properties (see include/satisfy/kafka_client.h), so that
 * every small program does not repeat the configuration, rd_kafka_new and
 * their error checks.
 */
#include "satisfy/kafka_client.h"

#include <stddef.h>

rd_kafka_t *sf_kafka_handle_new(rd_kafka_type_t type, rd_kafka_conf_t *conf, sf_err *err)
{
    char errstr[512];
    rd_kafka_t *rk = rd_kafka_new(type, conf, errstr, sizeof errstr);
    if (!rk) {
        rd_kafka_conf_destroy(conf); /* rd_kafka_new leaves it to us on failure */
        sf_errf(err, "cannot create a Kafka %s: %s",
                type == RD_KAFKA_CONSUMER ? "consumer" : "producer", errstr);
    }
    return rk;
}

rd_kafka_t *sf_kafka_consumer_new(const char *brokers, const char *group, const char *const *props,
                                  int n_props, sf_err *err)
{
    rd_kafka_conf_t *conf = sf_kafka_conf_new(brokers, NULL, 0, err);
    if (!conf)
        return NULL;
    /* string and boolean properties librdkafka always accepts */
    char errstr[512];
    if (group)
        rd_kafka_conf_set(conf, "group.id", group, errstr, sizeof errstr);
    rd_kafka_conf_set(conf, "enable.auto.commit", "false", errstr, sizeof errstr);
    for (int i = 0; i < n_props; i++)
        if (sf_kafka_conf_set(conf, props[i], err) != 0) {
            rd_kafka_conf_destroy(conf);
            return NULL;
        }
    return sf_kafka_handle_new(RD_KAFKA_CONSUMER, conf, err);
}

rd_kafka_t *sf_kafka_producer_new(const char *brokers, const char *const *props, int n_props,
                                  sf_kafka_stats *st, sf_err *err)
{
    rd_kafka_conf_t *conf = sf_kafka_conf_new(brokers, props, n_props, err);
    if (!conf)
        return NULL;
    if (st)
        sf_kafka_conf_stats(conf, st);
    return sf_kafka_handle_new(RD_KAFKA_PRODUCER, conf, err);
}
