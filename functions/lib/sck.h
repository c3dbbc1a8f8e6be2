/*
 * sck.h - Smart Citizen Kit readings: the two payload formats and the topic.
 *
 * Shared by the functions that read kits (threshold.c, logger.c, log_query.c) and
 * built into each of their images with `unifaas build F.c lib/sck.c`; the
 * unit test tests/unit/test_sck.c builds it on the host.  No I/O, no
 * allocation: a message is parsed into a caller's struct sck_msg.
 * The grammar is ../shared/testdata/sck/README.md's:
 *   raw  (`readings/raw`): {t:YYYY-MM-DDTHH:MM:SSZ,158:612,55:22.31,...}
 *   JSON (`readings`): {"data":[{"recorded_at":"...","sensors":[{"id":158,"value":612},...]},...]}
 */
#ifndef SCK_H
#define SCK_H

#include <stddef.h>

#define SCK_CO2         158 /* SCD30 CO2, ppm */
#define SCK_MAX_SENSORS 64  /* per group; more is refused */
#define SCK_MAX_GROUPS  16  /* per JSON message; more is refused */
#define SCK_TIME_MAX    40  /* a group's time, with its NUL */
#define SCK_TOKEN_MAX   64  /* a device token, with its NUL */

struct sck_sensor {
	long id;
	double value;
};

/* One timestamp and its readings; null values are already dropped. */
struct sck_group {
	char time[SCK_TIME_MAX];
	int n;
	struct sck_sensor s[SCK_MAX_SENSORS];
};

struct sck_msg {
	int ngroups;
	struct sck_group g[SCK_MAX_GROUPS];
};

enum sck_format { SCK_RAW, SCK_JSON };

/* Parse results: a message, a message to drop (JSON without non-empty data), an error. */
enum { SCK_OK = 0, SCK_EMPTY = 1, SCK_ERROR = -1 };

/*
 * Parses the len bytes at s (a NUL inside is an error) in format f into *m.
 * SCK_ERROR writes to err a reason naming the byte position ("at byte 12:
 * expected ':' after sensor id 158").  A raw message is one group.
 */
int sck_parse(enum sck_format f, const char *s, size_t len, struct sck_msg *m, char *err, size_t errlen);

/*
 * Splits a kit's topic device/sck/<token>/readings[/raw]: the token (1..63
 * of [A-Za-z0-9._-], so it fits in JSON and KV keys as is) and the format
 * (`readings/raw` raw, `readings` JSON).  0, or -1 with err saying why.
 */
/*
 * The length of the device token at s[0..len): its characters up to the
 * first '/' or the end, when they are 1..63 of [A-Za-z0-9._-]; 0 when not.
 */
size_t sck_token_len(const char *s, size_t len);

int sck_topic(const char *topic, size_t len, char *token, enum sck_format *f, char *err, size_t errlen);

#endif
