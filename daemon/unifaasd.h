/*
 * unifaasd.h - the orchestrator's shared state (ARCHITECTURE §4).
 *
 * One process, one libuv loop, no threads but egress_server.c's.  The daemon owns: the registry of
 * deployed workflows (registry.c), the units it started (units.c), the
 * decision when to start one (scheduler.c + autoscale.c), the control API
 * (api.c), the units' logs (logs.c), its connection to Redis (store.c),
 * pre-started tenders (standby.c), the TAP pool (tap_pool.c) and its
 * configuration (config.c), its own log records (dlog.c) and clocks
 * (clock.c), units' outbound HTTP (egress_server.c, on threads of its own:
 * the one exception to "no threads"); its MQTT client (mqtt.c: ingress routes,
 * the outbox); delayed re-queues it moves into their queues when due
 * (delay.c); manifests are parsed by manifest.c.
 * It never touches guest memory and never sits on the data path: units talk
 * to Redis themselves.
 *
 * Invariants: every struct unit is in exactly one step's unit list from
 * spawn until its process has been reaped and its pending events settled;
 * a step's `running` equals the length of that list; everything needed to
 * restore a workflow after a restart is in Redis (uf:state:*), everything
 * else here is rebuilt from it.
 */
#ifndef UNIFAASD_H
#define UNIFAASD_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "autoscale.h"
#include "config.h"
#include "manifest.h"
#include "uf_abi.h"

struct daemon;
struct logfile;

enum unit_state { UNIT_RUNNING, UNIT_STOPPING };

struct unit {
	struct unit *next;
	struct step *step;
	char id[160];                    /* <wf>.<step>.<n>: also the consumer name */
	int pid;                         /* also its process group */
	uv_pipe_t out, err;              /* the tender's stdout and stderr */
	char outbuf[1024], errbuf[1024]; /* partial lines */
	size_t outlen, errlen;
	int open_handles; /* process, out, err not yet finished: freed at 0 */
	int stop_reason;  /* why the daemon stopped it: STOP_* */
	int standby;      /* started from a pre-started tender */
	enum unit_state state;
	uint64_t started_ms;
	uint64_t events; /* acknowledged, from uf:stat:<wf>:<step> */
	char tap[16];    /* TAP device held, "" if none */
	char ip[16];     /* the unit's address on the TAP pool's subnet */
	int exited;
	int64_t exit_status;
	int term_signal;
	char last_line[256];   /* last stderr line (the tender's reason), or why the daemon killed it (hung) */
	uv_timer_t kill_timer; /* SIGKILL if SIGTERM was not enough */
	int failed;            /* ended of its own accord, not cleanly: its events count as failed */
	int redis_full;        /* ... because Redis refused its commit, full: they do not (delivery.h) */
	char end_reason[512];  /* what its settled events carry */
	long long held;        /* events it held at the last check (GET /v1/units "held") */
	uint64_t held_since;   /* when it took the oldest of them (daemon clock, from that check) */
	uint64_t hung_at;      /* then past its budget: killed, also if Redis stops answering */
	char stop_why[256];    /* why the daemon stops it, naming the limit ("" while it runs) */
	int drain_stage;       /* 1: drained (SIGUSR1); 2: told to end now at unit_drain_ms (launch.h) */
	int drain_killed;      /* ... and killed when still there UF_DRAIN_SETTLE_MS later */
	char reclaim_for[80];  /* taken back for this workflow (a name, UF_NAME_BUF): poked when gone */
};

/* describe's recent failures and stops of each step, kept in memory and
 * in Redis (inspect_note_end): at most this many of each */
#define STEP_ENDS_KEPT 5

struct step {
	struct workflow *wf;
	const struct uf_function *fn;
	char image[1400]; /* the copy in the state dir */
	struct unit *units;
	uint32_t running;
	uint64_t seq; /* next unit number */
	uint64_t last_start_ms;
	uint64_t starts;
	uint64_t exits[UF_END_NET + 1];   /* by UF_END_* status */
	uint64_t killed;                  /* ended by a signal */
	uint64_t backlog;                 /* unread + pending at the last check (backlog.c) */
	uint64_t backlog_most, prev_most; /* the backlog was at most this (backlog.c) */
	uint64_t unread, pending;
	int dirty;           /* a notification asked for a check */
	int fresh;           /* resumed: the next backlog read sets the baseline */
	uint32_t failures;   /* consecutive units that ended in failure */
	uint64_t backoff_ms; /* no start before last_start_ms + this */
	struct logfile *log;
	char why_waiting[256];    /* why the last wanted start did not happen */
	int starting;             /* a unit number asked for (unit_start) */
	int checking;             /* a check's reads are out (scheduler.c) */
	uint64_t read_ms;         /* when the last check's reads came in */
	struct unit_end {         /* the last units that ended in failure (describe; also in Redis) */
		uint64_t time_ms; /* epoch */
		char reason[512];
	} ends[STEP_ENDS_KEPT];
	uint32_t nends;                        /* ever noted; ends[nends % STEP_ENDS_KEPT] is the next slot */
	struct unit_end stops[STEP_ENDS_KEPT]; /* the last units the daemon stopped at a limit, and why */
	uint32_t nstops;
};

enum wf_state { WF_RUNNING, WF_STOPPED };

struct workflow {
	struct workflow *next;
	struct daemon *d;
	struct uf_manifest *m;
	struct step *steps; /* m->nfunctions of them */
	enum wf_state state;
	char reason[512]; /* why it is stopped */
	int removed;      /* undeployed: freed when its last unit is gone */
	int purged;       /* ... with --purge: numbers forgotten, no unit end written (registry.c) */
	char acl_user[96];
	char acl_pass[65];
	uint32_t running;
	uint64_t serial;      /* this deploy of the workflow, never reused: a reply for
	                         a replaced one does not act on its successor */
	uint64_t reserve_ms;  /* units are being taken back for it since (slots.c), 0 none */
	uint64_t reserve_mem; /* the memory it waits for */
	/* storage (quota.c) */
	uint64_t stored_bytes;         /* its keys' bytes at the last measurement */
	uint64_t stored_ms;            /* when (epoch ms); 0: not measured yet */
	int over_quota;                /* uf_quota_is_over: takes no events, its growing writes refused */
	uint64_t over_since_ms;        /* since when (now_ms), for quota_give_up_s (UF_QUOTA_SINCE_KEY) */
	int over_restored;             /* UF_QUOTA_SINCE_KEY found at its first pass: it was over */
	int quota_key;                 /* UF_QUOTA_KEY<wf>: 0 not known yet, 1 set, 2 deleted (quota.c) */
	int quota_hold;                /* over its quota while Redis is full: its units drained, none started */
	uint64_t redis_refusals;       /* its writes Redis refused, being full (maxmemory) */
	uint64_t refusal_logged_ms[8]; /* last logged, by operation (quota.c's REFUSAL_OPS) */
};

struct daemon {
	uv_loop_t *loop;
	struct uf_config cfg;
	struct workflow *workflows;
	struct workflow *retired; /* undeployed, waiting for their units to end */
	uint32_t running;         /* units on this node */
	uint64_t unit_memory;     /* the units' memory budget: unit_memory_budget or half of MemTotal */
	uint64_t started_ms;
	uv_timer_t tick;
	uv_timer_t soon;
	uv_timer_t trim;               /* coalesces notifications into one check */
	uv_timer_t quota_timer;        /* measures the workflows' stored bytes (quota.c) */
	struct quota_pass *quota_pass; /* the pass under way, or NULL */
	uv_timer_t delay;              /* moves due delayed re-queues (delay.c) */
	int delay_busy;                /* the mover's passes still out */
	uv_signal_t sigterm, sigint, sigchld;
	int stopping; /* 1: shutting down; 2: done, the loop is stopping */
	struct store *store;
	struct pushwin *pushwin; /* every push's admission into Redis (pushwin.c) */
	struct api *api;
	struct ingress *ingress; /* HTTP ingress (ingress.c) */
	struct token *tokens;    /* its bearer tokens (tokens.c) */
	int tokens_loaded;       /* a load succeeded: tokens is Redis's table */
	int tokens_loading;      /* a load waits for its reply */
	int tokens_failing;      /* the last load failed (logged once) */
	uv_timer_t tokens_retry; /* the next load after a failed one */
	struct tap_pool *taps;
	struct standby_pool *standbys;
	struct egress *egress; /* uf_http (egress_server.c) */
	struct mqtt *mqtt;     /* NULL when mqtt_url cannot be used */
	/* the workflows' CPU cgroups (cpu_groups.c) */
	struct cpu_groups *cpu;
};

/* clock.c: now_ms for intervals (monotonic), wall_ms for times users see (epoch) */
uint64_t now_ms(void);
uint64_t wall_ms(void);
/* config.c: mkdir -p of every directory in path up to its last '/' (0700) */
int mkdirs(const char *path);

/* main.c: ends the loop once a shutdown has stopped every unit and standby */
void daemon_maybe_finish(struct daemon *d);

/* dlog.c: one record, key=value, to stderr (the daemon's log file).  The
 * format's literal text is the keys; every conversion is a value, quoted
 * and escaped as needed (so write `cause=%s`, not `cause="%s"`). */
void dlog(const char *level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* the record dlog writes, into line (cap >= 3), ending in a newline */
void dlog_format(char *line, size_t cap, const char *level, const char *fmt, va_list ap);
/* one value as dlog writes it: bare when a plain token, else quoted */
void dlog_value(char *out, size_t cap, const char *v, size_t n);

/* config.c */
int config_load(struct uf_config *c, const char *state_dir, char *err, size_t errlen);

/* registry.c */
int registry_restore(struct daemon *d, char *err, size_t errlen);
/* 0 ok (created=1 new, 0 replaced); -1 with err (and *http_status) */
/* The end of a deploy or undeploy once Redis answered: the HTTP status
 * (201 created, 200 replaced or undeployed, 404, 409, 503, 500) and, unless
 * it succeeded, why. */
typedef void (*registry_done_fn)(void *arg, int status, const char *workflow, const char *err);
/* 0: the writes are out and done(arg, ...) follows from the loop (possibly
 * before this returns, for an undeploy); -1 with err and *http_status at once */
int registry_deploy(struct daemon *d, const char *yaml, size_t len, const char *file, const char *dir, int replace,
                    registry_done_fn done, void *arg, char *err, size_t errlen, int *http_status);
int registry_undeploy(struct daemon *d, const char *name, int purge, registry_done_fn done, void *arg, char *err,
                      size_t errlen, int *http_status);
struct workflow *registry_find(struct daemon *d, const char *name);
/* a deployed workflow's step by names (what outlives a reply from Redis) */
/* the step of a deployed workflow; serial: of that deploy only (0: any) */
struct step *registry_find_step(struct daemon *d, const char *wf, const char *step, uint64_t serial);
void registry_set_state(struct workflow *w, enum wf_state s, const char *reason);
void registry_free_all(struct daemon *d);
void registry_unit_gone(struct workflow *w);
void registry_reapply_acls(void *daemon);
/* At start: deletes the ACL users of the kept workflows not deployed (a
 * Redis that did not restart still has them; their units are gone). */
void registry_release_kept(struct daemon *d);

/* units.c */
int unit_start(struct daemon *d, struct step *s, char *err, size_t errlen);
enum {
	STOP_NONE,
	STOP_SCALE,
	STOP_UNDEPLOY,
	STOP_OVERFLOW,
	STOP_HUNG,
	STOP_SHUTDOWN,
	STOP_IDLE,
	STOP_LIFETIME,
	STOP_RECLAIM,
	STOP_QUOTA /* over its storage quota while Redis is full (quota.c) */
};
void unit_stop(struct unit *u, int sig, int why);
/* Stops a unit at a limit (STOP_IDLE, STOP_LIFETIME, STOP_RECLAIM,
 * STOP_QUOTA) or for the daemon (STOP_UNDEPLOY, STOP_OVERFLOW,
 * STOP_SHUTDOWN), saying why (`msg`) in the log, ps and describe.  A unit
 * that may still hold events is drained: the tender is asked (SIGUSR1) to
 * commit its batch and end instead of popping again; one still handling an
 * event unit_drain_ms later is told to end now (the event in hand counted
 * as failed, the rest handed back uncounted) and killed 1 s after that
 * (all it held counted).  An idle unit holds none: it is stopped at once. */
void unit_drain(struct unit *u, int why, const char *msg);
void units_reap(struct daemon *d); /* on SIGCHLD */
struct unit *unit_find(const struct daemon *d, int pid, const char *id);
/* posix_spawn in a process group of its own, signals reset; in < 0: /dev/null.
 * 0 or an errno. */
int spawn_tender(char *const argv[], char *const envp[], int in, int out, int err, pid_t *pid);
/* unit_drain for each unit of the step that is not stopping already. */
void units_stop_step(struct step *s, int why, const char *msg);
int units_cleanup_previous(struct daemon *d, char *err, size_t errlen);
/* sent, not waited for: settles what `consumer` holds (once at a time) */
void units_settle_consumer(struct daemon *d, struct step *s, const char *consumer, const char *reason);

/* inspect.c: note a unit that ended in failure (kind UF_END_FAILED) or
 * that the daemon stopped at a limit (UF_END_STOPPED), for describe: in
 * the step (s->ends, s->stops) and in Redis (store.h UF_ENDS_KEY), so a
 * restart or a replace keeps them, and a Redis that refuses the write
 * (full) does not hide the newest */
#define UF_END_FAILED  "failed"
#define UF_END_STOPPED "stopped"
void inspect_note_end(struct step *s, const char *kind, const char *reason);

/* slots.c: node admission (fair unit slots, memory budget; autoscale.h) */
uint64_t slots_memory_budget(const struct uf_config *c); /* unit_memory_budget, or half of MemTotal */
uint64_t slots_unit_memory(const struct uf_function *f); /* what one unit of f counts */
/* 1: s may start a unit now; 0: not (why says why, units may be taken
 * back from other workflows for it meanwhile) */
int slots_admit(struct daemon *d, struct step *s, char *why, size_t cap);
void slots_started(struct workflow *w); /* a unit of w was asked for */
/* w's guaranteed share of the node's units and unit memory, its weight
 * (manifest share) and the running workflows' weights added up */
struct slot_use slots_share(const struct daemon *d, const struct workflow *w, uint32_t *weight, uint32_t *total);
/* deploy: can the workflow's min_units ever fit?  0, or -1 with err */
int slots_check_deploy(const struct daemon *d, const struct uf_manifest *m, char *err, size_t errlen);

/* scheduler.c */
void scheduler_start(struct daemon *d);
void scheduler_poke(struct daemon *d, const char *wf, const char *queue);
void scheduler_check_now(struct daemon *d);
void scheduler_units_changed(struct daemon *d); /* a unit started or ended */
/* the start unit_start asked for: rc 0 started, -1 not (err says why) */
void scheduler_start_done(struct daemon *d, struct step *s, int rc, const char *err);

#endif
