/*
 * launch.h - how unifaasd hands a unit its settings: the rules the daemon
 * (units.c, standby.c) and the tender (hvt_main.c, hvt_standby.c) share.
 *
 * Options go on the tender's command line; anything secret or user-given
 * goes in its environment, never in argv (argv is readable by every user
 * in `ps -ef`; /proc/PID/environ only by the unit's owner): the workflow's
 * Redis credentials (UF_REDIS_USER, UF_REDIS_PASSWORD) and the function's
 * environment, each variable KEY=VALUE as UF_ENV_KEY=VALUE, which the
 * tender strips of the prefix and gives the guest, in order.
 *
 * A pre-started tender (uf-hvt --standby) gets the same through its stdin:
 * UF_LAUNCH_MAGIC, then tokens each ending in a NUL byte, "A" and one
 * argument or "E" and NAME=VALUE, then end of file; at most
 * UF_LAUNCH_MAX bytes in all (room for UF_ENV_MAX variables of
 * UF_ENV_VALUE_MAX bytes with their names, and the options).
 */
#ifndef UF_LAUNCH_H
#define UF_LAUNCH_H

#include <signal.h>

#define UF_FN_VARS_MAX   255                  /* a manifest's env and secrets together */
#define UF_ENV_MAX       (UF_FN_VARS_MAX + 2) /* and NET_IP, NET_GW for net: true units */
#define UF_ENV_NAME_MAX  128                  /* bytes of a variable name */
#define UF_ENV_VALUE_MAX 4096                 /* bytes of one value */
#define UF_FN_ENV_PREFIX "UF_ENV_"
/* when unifaasd launched the unit (spawn, or hand-over to a standby), its
 * uf_time_ms in decimal: the tender measures its cold start from it
 * (delivery.h, UF_STAT_COLD_BUCKET) */
#define UF_SPAWN_ENV     "UF_SPAWN_MS"
#define UF_PUBLISH_MAX   32           /* a function's publish: filters (uf-hvt --publish, each) */
#define UF_PUBLISH_LEN   1024         /* bytes of one of them */
#define UF_STACK_DEFAULT (256u << 10) /* the guest's stack when nothing else is asked */
#define UF_LAUNCH_MAGIC  "UFLAUNCH1\n"
#define UF_LAUNCH_MAX    (2u << 20)

/*
 * Draining a unit (daemon/units.c unit_drain; tender/hvt_main.c):
 *  1. SIGUSR1, its value (sigqueue) the cause (enum uf_drain_cause): end at
 *     the next pop, once the batch in hand is committed (a tender holding
 *     no batch ends at once);
 *  2. UF_DRAIN_DEADLINE_SIGNAL unit_drain_ms later, its value unit_drain_ms,
 *     to a tender still there: end now, as an event over its time limit
 *     (UF_END_TIMEOUT): the event in hand counts as a failed delivery, with
 *     the reason uf_drain_reason (delivery.h), the rest of the batch is
 *     handed back uncounted;
 *  3. SIGKILL UF_DRAIN_SETTLE_MS after that, to a tender still there (stuck
 *     in a host call): unifaasd counts everything it held as failed.
 * So an event that always outlasts its unit's drain is retried and then
 * dead-lettered, and the other events of its batch are not charged.
 */
#define UF_DRAIN_DEADLINE_SIGNAL SIGUSR2
#define UF_DRAIN_SETTLE_MS       1000

#endif
