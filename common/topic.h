/*
 * topic.h - MQTT topic rules (MQTT 3.1.1 §4.7), written once for every
 * component that judges a topic: the manifest (ingress.mqtt filters,
 * functions' publish filters), the broker's device ACL (`unifaas device
 * add --topic`), unifaasd's MQTT client (which route a message takes) and
 * the tender (whether a function may publish to a topic).
 *
 * A topic name (what is published) is 1..UF_TOPIC_MAX bytes of UTF-8
 * without NUL and without the wildcards '+' and '#'.  A filter (what is
 * subscribed or allowed) is the same, except that '+' may fill one whole
 * level and '#' the whole last level.  Topics starting with '$' are the
 * broker's: a filter starting with a wildcard does not match them.
 */
#ifndef UF_TOPIC_H
#define UF_TOPIC_H

#include <stddef.h>

#define UF_TOPIC_MAX 65535u /* MQTT's own limit: a two-byte length */

/* 1 if s[0..n) is a valid topic name / filter, else 0; *why (may be NULL)
 * gets the rule broken, in words for an error message. */
int uf_topic_name_ok(const char *s, size_t n, const char **why);
int uf_topic_filter_ok(const char *s, size_t n, const char **why);
/* 1 if the topic name matches the filter (both valid), else 0. */
int uf_topic_match(const char *filter, size_t flen, const char *topic, size_t tlen);
/* 1 if some topic name matches both filters (both valid), else 0: a
 * workflow's ingress routes may not overlap, so a message takes one. */
int uf_topic_filters_overlap(const char *a, size_t alen, const char *b, size_t blen);

#endif
