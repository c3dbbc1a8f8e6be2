/*
 * main.c - unifaasd: start-up, the loop, shutdown.
 *
 * Order at start: read <state>/unifaas.conf, wait until Redis answers
 * (store_wait_ready: a Redis still loading its AOF, stopped or not yet
 * listening is waited for, up to STORE_READY_WAIT_MS from the start; then
 * exit 1 naming the socket and what Redis said), restore the deployed
 * workflows, kill and settle units a previous unifaasd left behind - each
 * read whole, and read again after waiting for Redis when it fails, never
 * half-applied - listen for the control API, then start the scheduler.  The
 * process is a child subreaper so every descendant of a unit is reaped
 * here.  SIGTERM/SIGINT: stop accepting requests, SIGTERM every unit
 * (SIGKILL after 2 s), settle what they held, then exit 0.
 * Logs go to stderr, one key=value record per event (dlog.c).
 */
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <time.h>
#include <unistd.h>

#include "api.h"
#include "cpu_groups.h"
#include "delay.h"
#include "egress_server.h"
#include "ingress.h"
#include "mqtt.h"
#include "standby.h"
#include "metrics.h"
#include "secret.h"
#include "pushwin.h"
#include "store.h"
#include "tap_pool.h"
#include "tokens.h"
#include "quota.h"
#include "unifaasd.h"

static void on_notify(void *arg, const char *wf, const char *queue)
{
	struct daemon *d = arg;
	if (!wf) {
		scheduler_check_now(d);
		return;
	}
	scheduler_poke(d, wf, queue);
}

static void on_reconnect(void *arg)
{
	registry_reapply_acls(arg);
	tokens_load(arg); /* Redis may have been away or restarted: its table again */
}

/* A read at start (read: 0, or -1 with nothing applied): run again once
 * Redis answers again, until deadline_ms. */
static int start_read(struct daemon *d, int (*read)(struct daemon *, char *, size_t), const char *what,
                      uint64_t deadline_ms, char *err, size_t errlen)
{
	char cause[512];
	for (int logged = 0;;) {
		if (!read(d, cause, sizeof(cause)))
			return 0;
		if (!logged++)
			dlog("warn", "what=%s cause=\"%s\" action=\"read again once redis answers\"", what, cause);
		if (store_wait_ready(d->store, deadline_ms, err, errlen) < 0)
			return -1;
		if (now_ms() + 200 >= deadline_ms) {
			snprintf(err, errlen, "%s: %s, still after %u s: check redis (state dir's logs/redis.log)",
			         what, cause, STORE_READY_WAIT_MS / 1000);
			return -1;
		}
		usleep(200000); /* Redis answers PING but not this read: not too often */
	}
}

/* pushwin's share_of: a deployed workflow's `share`, 0 when none */
static uint32_t workflow_share(void *arg, const char *wf)
{
	struct workflow *w = registry_find(arg, wf);
	return w && w->m ? w->m->share : 0;
}

static void close_walk(uv_handle_t *h, void *arg)
{
	(void)arg;
	if (!uv_is_closing(h))
		uv_close(h, NULL);
}

void daemon_maybe_finish(struct daemon *d)
{
	if (d->stopping != 1 || d->running || standby_count(d->standbys))
		return;
	d->stopping = 2; /* once */
	dlog("info", "what=shutdown result=done");
	uv_stop(d->loop);
}

static void on_child(uv_signal_t *s, int sig)
{
	(void)sig;
	struct daemon *d = s->data;
	units_reap(d);
	daemon_maybe_finish(d);
}

static void on_term(uv_signal_t *s, int sig)
{
	struct daemon *d = s->data;
	if (d->stopping)
		return;
	dlog("info", "what=shutdown signal=%d units=%u", sig, d->running);
	d->stopping = 1;
	ingress_close(d->ingress);
	api_close(d->api);
	d->api = NULL;
	mqtt_close(d->mqtt);
	uv_timer_stop(&d->tick);
	uv_timer_stop(&d->soon);
	uv_timer_stop(&d->trim);
	quota_stop(d);
	delay_stop(d);
	for (struct workflow *w = d->workflows; w; w = w->next)
		for (size_t i = 0; i < w->m->nfunctions; i++)
			units_stop_step(&w->steps[i], STOP_SHUTDOWN, "unifaasd is shutting down");
	standby_release_all(d->standbys);
	daemon_maybe_finish(d);
}

static void usage(FILE *f)
{
	fprintf(f, "usage: unifaasd [--state-dir DIR]\n"
	           "The unifaas orchestrator. Normally started by 'unifaas up', which writes\n"
	           "DIR/unifaas.conf, DIR/api.token and starts redis-server first.\n"
	           "  --state-dir DIR  state directory (default $UNIFAAS_STATE, else\n"
	           "                   $XDG_STATE_HOME/unifaas, else ~/.local/state/unifaas)\n");
}

static int default_state_dir(char *out, size_t cap)
{
	const char *e = getenv("UNIFAAS_STATE"), *x = getenv("XDG_STATE_HOME"), *h = getenv("HOME");
	if (e && *e)
		return snprintf(out, cap, "%s", e) < (int)cap ? 0 : -1;
	if (x && *x)
		return snprintf(out, cap, "%s/unifaas", x) < (int)cap ? 0 : -1;
	return snprintf(out, cap, "%s/.local/state/unifaas", h ? h : "/root") < (int)cap ? 0 : -1;
}

int main(int argc, char **argv)
{
	static struct daemon d;
	char state[4096] = "", err[1024];
	static const struct option opts[] = {
	    {"state-dir", required_argument, 0, 's'}, {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
	int c;
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c == 's')
			snprintf(state, sizeof(state), "%s", optarg);
		else if (c == 'h') {
			usage(stdout);
			return 0;
		} else {
			usage(stderr);
			return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	if (!state[0] && default_state_dir(state, sizeof(state)) < 0)
		return 2;
	if (config_load(&d.cfg, state, err, sizeof(err)) < 0) {
		fprintf(stderr, "unifaasd: config: %s\n", err);
		return 1;
	}
	d.unit_memory = slots_memory_budget(&d.cfg);
	closefrom(3);                 /* whatever the starter left open is not ours */
	if (uf_no_core_dumps() < 0) { /* it holds Redis's password, secrets on their way to units */
		fprintf(stderr, "unifaasd: cannot turn core dumps off: %s\n", strerror(errno));
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	d.loop = uv_default_loop();
	d.started_ms = now_ms();
	if (!(d.store =
	          store_open(d.loop, d.cfg.redis_socket, d.cfg.redis_password, on_notify, &d, err, sizeof(err)))) {
		fprintf(stderr, "unifaasd: %s\n", err);
		return 1;
	}
	if (!(d.pushwin = pushwin_open(d.store, d.loop, d.cfg.ingress_rate, workflow_share, &d))) {
		fprintf(stderr, "unifaasd: out of memory\n");
		return 1;
	}
	uint64_t deadline = d.started_ms + STORE_READY_WAIT_MS;
	if (start_read(&d, registry_restore, "restore", deadline, err, sizeof(err)) < 0 ||
	    start_read(&d, units_cleanup_previous, "cleanup", deadline, err, sizeof(err)) < 0) {
		fprintf(stderr, "unifaasd: %s\n", err);
		return 1;
	}
	registry_release_kept(&d); /* after the cleanup killed the previous daemon's units */
	cpu_groups_open(&d);       /* before any unit starts; after the restore: stale groups are told apart */
	store_on_reconnect(d.store, on_reconnect); /* after the reads: restore sent the ACLs itself */
	tokens_load(&d);
	if (!(d.api = api_open(&d, err, sizeof(err)))) {
		fprintf(stderr, "unifaasd: api: %s\n", err);
		return 1;
	}
	if (!ingress_open(&d, err, sizeof(err))) {
		fprintf(stderr, "unifaasd: ingress: %s\n", err);
		return 1;
	}
	uv_signal_init(d.loop, &d.sigterm);
	uv_signal_init(d.loop, &d.sigint);
	uv_signal_init(d.loop, &d.sigchld);
	d.sigterm.data = d.sigint.data = d.sigchld.data = &d;
	uv_signal_start(&d.sigterm, on_term, SIGTERM);
	uv_signal_start(&d.sigint, on_term, SIGINT);
	uv_signal_start(&d.sigchld, on_child, SIGCHLD);
	if (!(d.egress = egress_open(d.loop, &d.cfg, err, sizeof(err)))) {
		fprintf(stderr, "unifaasd: egress: %s\n", err);
		return 1;
	}
	d.standbys = standby_open(&d, d.cfg.prestart);
	scheduler_start(&d);
	quota_start(&d);
	delay_start(&d);
	d.mqtt = mqtt_open(&d);
	dlog("info",
	     "what=start version=%s pid=%d state_dir=%s api=127.0.0.1:%u ingress=%s:%u redis=%s max_units=%u "
	     "unit_memory_budget=%llu unit_lifetime_s=%u prestart=%u",
	     UNIFAAS_VERSION, getpid(), d.cfg.state_dir, d.cfg.api_port, d.cfg.ingress_bind, d.cfg.ingress_port,
	     d.cfg.redis_socket, d.cfg.max_units, (unsigned long long)d.unit_memory, d.cfg.unit_lifetime_s,
	     d.cfg.prestart);
	uv_run(d.loop, UV_RUN_DEFAULT);

	cpu_groups_close(&d); /* every unit is reaped */
	standby_close(d.standbys);
	egress_close(d.egress);
	store_close(d.store);
	pushwin_close(d.pushwin); /* after the store handed out its last replies */
	if (d.taps)
		tap_pool_close(d.taps, 0, err, sizeof(err));
	registry_free_all(&d);
	metrics_reset();
	tokens_free(&d);
	uv_walk(d.loop, close_walk, NULL);
	uv_run(d.loop, UV_RUN_DEFAULT);
	uv_loop_close(d.loop);
	return 0;
}
