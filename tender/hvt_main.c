/*
 * hvt_main.c - uf-hvt: run one unikernel image as one execution unit.
 *
 * Order of work: parse options; open the backend (files are opened here,
 * before the sandbox); create the VM and load the image; build the boot
 * state; seccomp; then run the vCPU until the unit ends.  Every way a unit
 * ends goes through hvt_end(), which records one UF_END_* code and one
 * reason; the reason is printed as one line on stderr (always for an
 * abnormal end, with -v also for a clean one) and the code is the exit
 * status.
 *
 * The time limit: a CPU-time timer ticks every timeout/4 while the unit
 * runs; the guest counts the events it starts in bootinfo->progress.  Four
 * ticks without progress means one event has used its whole limit, and the
 * unit is stopped.  The counter is guest memory, so a guest could fake
 * progress: the tender also caps a whole batch of n events at n limits (and
 * start-up, before the first pop, at one).  A blocked unit (waiting for
 * events) uses no CPU and so never times out.
 */
#include <errno.h>
#include <getopt.h>
#include <linux/kvm.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "delivery.h"
#include "hvt.h"
#include "launch.h"
#include "secret.h"
#include "topic.h"

extern char **environ;

#define TICKS_PER_TIMEOUT 4

static struct hvt *the_hvt; /* for the signal handler only */
static volatile sig_atomic_t tick_pending;

static void usage(FILE *f)
{
	fprintf(f,
	        "usage: uf-hvt [options] IMAGE\n"
	        "Runs a unifaas unikernel image on KVM as one execution unit.\n\n"
	        "  --mem SIZE          guest memory budget (default 8M; K, M, G suffixes)\n"
	        "  --stack SIZE        guest stack size (default 256K)\n"
	        "  --timeout-ms N      CPU time one event may use (default 0 = unlimited)\n"
	        "  --idle-ms N         how long the unit waits for more events (default 0)\n"
	        "  --batch N           most events per pop (default 64, max %u)\n"
	        "  --env KEY=VALUE     add to the function's environment (repeatable); so does\n"
	        "                      each variable UF_ENV_KEY=VALUE of uf-hvt's own environment\n"
	        "  --event DATA        an event (repeatable); these come first\n"
	        "  --events FILE       then events from FILE, one per line ('-' for stdin);\n"
	        "                      with neither option, events are read from stdin\n"
	        "  --queue NAME        queue name the events appear to come from (default input)\n"
	        "  --source TEXT       where the events appear to come from (ev->source: an\n"
	        "                      MQTT topic or HTTP path; default none)\n"
	        "  --attrs JSON        the events' CloudEvents attributes (ev->attrs; a JSON\n"
	        "                      object; default none)\n"
	        "  --kv FILE           load the KV store from FILE and save it back at the end\n"
	        "  --redis SOCKET      serve queues and KV from redis-server at SOCKET instead:\n"
	        "                      the unit reads stream uf:q:WORKFLOW:QUEUE (--queue) in\n"
	        "                      consumer group STEP as CONSUMER (password: env\n"
	        "                      UF_REDIS_PASSWORD, user UF_REDIS_USER)\n"
	        "  --workflow NAME     workflow (key namespace) with --redis (default default)\n"
	        "  --step NAME         consumer group with --redis (default: the queue name)\n"
	        "  --consumer NAME     consumer name with --redis (default unit-PID)\n"
	        "  --retries N         with --redis: a failed event is re-queued N times, then\n"
	        "                      dead-lettered to uf:dlq:WORKFLOW:QUEUE (default 3)\n"
	        "  --retry-delay-ms N  with --redis: a failed event is re-queued after N ms,\n"
	        "                      doubled at each attempt, at most an hour (default 0)\n"
	        "  --push-allow Q,...  the only queues pushes may go to (default: any); a push\n"
	        "                      elsewhere fails its event\n"
	        "  --publish FILTER    an MQTT topic filter uf_mqtt_publish may publish to\n"
	        "                      (repeatable); other topics get -EPERM.  Without it:\n"
	        "                      no topic with --redis, any topic in a local run\n"
	        "  --limit NAME=N      a limit of what one event writes (common/event_limits.h:\n"
	        "                      value_bytes, event_bytes, writes_per_event,\n"
	        "                      commit_bytes, batch_commit_bytes, batch_commit_writes;\n"
	        "                      default: the node defaults); past one, the event fails\n"
	        "  --manifest-limit NAME=N\n"
	        "                      the same, named as the manifest's in failure reasons\n"
	        "  --tap NAME          attach the unit to the existing TAP device NAME (raw\n"
	        "                      Ethernet frames: uf_net_read/uf_net_write)\n"
	        "  --mac MAC           the unit's MAC with --tap (default: derived from NAME)\n"
	        "  --egress SOCKET     serve uf_http through unifaasd's egress server at SOCKET\n"
	        "                      (token: env UF_EGRESS_TOKEN; without it uf_http\n"
	        "                      answers -ENOSYS); 'none': every call is refused\n"
	        "  --egress-fd N       serve uf_http through descriptor N, a socket already\n"
	        "                      connected to an egress server (`unifaas run\n"
	        "                      --allow-egress` starts one)\n"
	        "  --allow-egress PREFIX\n"
	        "                      (unifaas run only) serve uf_http to URLs under PREFIX\n"
	        "                      (repeatable), with an egress helper and --egress-fd\n"
	        "  --egress-ca FILE    (unifaas run only) CA certificates --allow-egress trusts\n"
	        "                      besides the system's bundle\n"
	        "  --standby [BLANKS]  (alone) make the VM and vCPU now, then read the unit's\n"
	        "                      options, image and environment from stdin (unifaasd's\n"
	        "                      pre-started tenders; see hvt_standby.c)\n"
	        "  --fast-exit         exit without waiting for the VM's teardown, which a\n"
	        "                      sibling process finishes: the caller must reap it\n"
	        "  --no-seccomp        do not sandbox the tender (debugging only)\n"
	        "  -v, --verbose       report clean exits and boot timing on stderr\n"
	        "  -h, --help          this text\n\n"
	        "Exit status: 0 clean exit, 1 function error, 2 usage or bad image,\n"
	        "3 guest fault, 4 time limit, 5 out of memory, 6 bad hypercall, 7 internal error,\n"
	        "8 --tap device missing, busy or not allowed.\n",
	        UF_BATCH_MAX);
}

void hvt_end(struct hvt *h, int code, const char *fmt, ...)
{
	if (h->ended)
		return;
	h->ended = 1;
	h->end_code = code;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(h->end_reason, sizeof(h->end_reason), fmt, ap);
	va_end(ap);
}

void hvt_printf(int fd, const char *fmt, ...)
{
	char buf[2048]; /* room for a line holding a reason (UF_REASON_MAX) */
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n > 0)
		hvt_write_all(fd, buf, (size_t)n < sizeof(buf) ? (size_t)n : sizeof(buf) - 1);
}

void hvt_write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return; /* reader gone: the output is dropped, the unit goes on */
		p += n;
		len -= (size_t)n;
	}
}

static int parse_size(const char *s, uint64_t *out)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || end == s)
		return -1;
	uint64_t mul = 1;
	if (*end == 'K' || *end == 'k')
		mul = 1ull << 10;
	else if (*end == 'M' || *end == 'm')
		mul = 1ull << 20;
	else if (*end == 'G' || *end == 'g')
		mul = 1ull << 30;
	if (mul != 1) {
		end++;
		if (strcmp(end, "iB") == 0 || strcmp(end, "B") == 0)
			end += strlen(end);
	}
	if (*end || v > UINT64_MAX / mul)
		return -1;
	*out = v * mul;
	return 0;
}

static int parse_u32(const char *s, uint32_t *out)
{
	char *end;
	errno = 0;
	unsigned long v = strtoul(s, &end, 10);
	if (errno || end == s || *end || v > UINT32_MAX || s[0] == '-')
		return -1;
	*out = (uint32_t)v;
	return 0;
}

uint64_t hvt_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void on_tick(int sig)
{
	(void)sig;
	tick_pending = 1;
	if (the_hvt && the_hvt->run)
		the_hvt->run->immediate_exit = 1;
}

/* SIGUSR1 from unifaasd: drain (launch.h).  A unit that holds no events
 * (none popped and not committed: waiting in a pop, booting, or a guest
 * that never pops) ends at once, with nothing to lose; one that holds a
 * batch ends at its next pop, which commits the batch first
 * (hvt_dataplane.c); one already ending finishes settling (the_hvt is
 * NULL from disarm_timer).  The signal's value is the drain's cause. */
volatile sig_atomic_t hvt_drain_asked;
static volatile sig_atomic_t drain_cause, drain_deadline, drain_ms;

static void on_drain(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	if (si && si->si_code == SI_QUEUE)
		drain_cause = si->si_value.sival_int;
	hvt_drain_asked = 1;
	if (the_hvt && !the_hvt->ended && the_hvt->inflight == 0)
		_exit(UF_END_EXIT);
}

/* UF_DRAIN_DEADLINE_SIGNAL: the drain's time (unit_drain_ms, the value) ran
 * out with the batch still in hand: the vCPU stops at once (run_vcpu ends
 * the unit, end_at_drain_deadline). */
static void on_drain_deadline(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)uc;
	if (si && si->si_code == SI_QUEUE && si->si_value.sival_int > 0)
		drain_ms = si->si_value.sival_int;
	drain_deadline = 1;
	if (the_hvt && the_hvt->run)
		the_hvt->run->immediate_exit = 1;
}

/* Ended as an event over its time limit: hvt_dataplane_settle counts the
 * event in hand as failed, with the drain's reason, and hands back the
 * rest of the batch uncounted (launch.h). */
static void end_at_drain_deadline(struct hvt *h)
{
	char why[256];
	hvt_end(h, UF_END_TIMEOUT, "%s",
	        uf_drain_reason(why, sizeof(why), hvt_drain_asked ? drain_cause : UF_DRAIN_ASKED, (uint32_t)drain_ms));
}

static int arm_timer(struct hvt *h, timer_t *t)
{
	if (h->opt.timeout_ms == 0)
		return 0;
	struct sigaction sa = {.sa_handler = on_tick};
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGALRM, &sa, NULL) < 0)
		return -1;
	struct sigevent sev = {.sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGALRM};
	if (timer_create(CLOCK_THREAD_CPUTIME_ID, &sev, t) < 0)
		return -1;
	uint64_t ns = (uint64_t)h->opt.timeout_ms * 1000000u / TICKS_PER_TIMEOUT;
	struct itimerspec its = {
	    .it_interval = {.tv_sec = (time_t)(ns / 1000000000u), .tv_nsec = (long)(ns % 1000000000u)},
	};
	its.it_value = its.it_interval;
	return timer_settime(*t, 0, &its, NULL);
}

/*
 * The timer stops when the vCPU does: on_tick writes through h->run, which
 * hvt_kvm_close unmaps, and a CPU-time tick can fall anywhere in teardown
 * (settling, the backend's close and the unmapping itself use CPU time).
 * Deleting it here means no tick is delivered after this returns.
 */
static void disarm_timer(timer_t t, int armed)
{
	if (armed)
		timer_delete(t);
	the_hvt = NULL;
	tick_pending = 0;
}

static void check_progress(struct hvt *h)
{
	tick_pending = 0;
	h->run->immediate_exit = 0;
	const volatile struct uf_bootinfo *bi = (const void *)(h->mem + UF_BOOTINFO_ADDR);
	uint64_t p = bi->progress;
	uint32_t n = h->batch_events ? h->batch_events : 1;
	/* n x 1.25 limits: the most n honest events can use, each stopped
	 * between 1 and 1.25 limits by the per-event check below */
	if (++h->batch_ticks > (uint64_t)n * (TICKS_PER_TIMEOUT + 1) + 1) {
		hvt_end(h, UF_END_TIMEOUT,
		        "time limit: a batch of %u event%s used more than %u x %u ms of CPU time (progress was faked)",
		        n, n == 1 ? "" : "s", n, h->opt.timeout_ms * (TICKS_PER_TIMEOUT + 1) / TICKS_PER_TIMEOUT);
		return;
	}
	if (p != h->watched_progress) {
		h->watched_progress = p;
		h->stalled_ticks = 0;
		return;
	}
	if (++h->stalled_ticks >= TICKS_PER_TIMEOUT)
		hvt_end(h, UF_END_TIMEOUT, "time limit: event %lu used more than %u ms of CPU time (" HVT_PC " 0x%lx)",
		        (unsigned long)p, h->opt.timeout_ms, (unsigned long)hvt_kvm_rip(h));
}

static void run_vcpu(struct hvt *h)
{
	while (!h->ended) {
		int r = hvt_kvm_run(h);
		if (tick_pending)
			check_progress(h);
		if (drain_deadline) {
			end_at_drain_deadline(h);
			break;
		}
		if (r < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			hvt_end(h, UF_END_INTERNAL, "KVM_RUN: %s", strerror(errno));
			break;
		}
		struct kvm_run *run = h->run;
		switch (run->exit_reason) {
		case KVM_EXIT_MMIO: {
			uint32_t v = 0;
			memcpy(&v, run->mmio.data, 4);
			hvt_hypercall(h, run->mmio.phys_addr, run->mmio.len, run->mmio.is_write, v);
			break;
		}
		case KVM_EXIT_IO: /* no port is open (the TSS has no I/O bitmap): not reached */
			hvt_end(
			    h, UF_END_BAD_HYPERCALL,
			    "bad hypercall: %s of %u bytes x%u on port 0x%x (hypercalls are one 32-bit store to the "
			    "hypercall page)",
			    run->io.direction == KVM_EXIT_IO_OUT ? "OUT" : "IN", run->io.size, run->io.count,
			    run->io.port);
			break;
		case KVM_EXIT_ARM_NISV: /* aarch64 (hvt_kvm_aarch64.c) */
			if (run->arm_nisv.fault_ipa - UF_HC_PAGE < UF_PAGE_SIZE)
				hvt_end(
				    h, UF_END_BAD_HYPERCALL,
				    "bad hypercall: an access KVM cannot decode (a store pair or with writeback) at "
				    "0x%llx in the hypercall page (hypercalls are one 32-bit store)",
				    (unsigned long long)run->arm_nisv.fault_ipa);
			else
				hvt_end(h, UF_END_FAULT,
				        "guest fault: an access KVM cannot decode at 0x%llx, outside guest memory",
				        (unsigned long long)run->arm_nisv.fault_ipa);
			break;
		case KVM_EXIT_HLT:
			hvt_end(h, UF_END_FAULT, "guest fault: halted at rip 0x%lx", (unsigned long)hvt_kvm_rip(h));
			break;
		case KVM_EXIT_SHUTDOWN:
			hvt_end(h, UF_END_FAULT,
			        "guest fault: triple fault at rip 0x%lx (an exception before the runtime's handlers "
			        "were installed, or inside one)",
			        (unsigned long)hvt_kvm_rip(h));
			break;
		case KVM_EXIT_FAIL_ENTRY:
			hvt_end(h, UF_END_INTERNAL, "KVM entry failed (reason 0x%llx)",
			        (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
			break;
		case KVM_EXIT_INTERNAL_ERROR:
			/* KVM emulates only accesses outside guest memory, and the
			 * hypercall page is all that is mapped there: an instruction it
			 * cannot emulate (an x87 store, say) touched that page.  (Where
			 * the guest's CPL is 3 KVM injects #UD instead: a guest fault.) */
			if (run->internal.suberror == KVM_INTERNAL_ERROR_EMULATION)
				hvt_end(h, UF_END_BAD_HYPERCALL,
				        "bad hypercall: an instruction KVM cannot emulate touched the hypercall page "
				        "at rip "
				        "0x%lx (hypercalls are one 32-bit store)",
				        (unsigned long)hvt_kvm_rip(h));
			else
				hvt_end(h, UF_END_INTERNAL, "KVM internal error (suberror %u) at " HVT_PC " 0x%lx",
				        run->internal.suberror, (unsigned long)hvt_kvm_rip(h));
			break;
		default:
			hvt_end(h, UF_END_INTERNAL, "unexpected KVM exit %u at " HVT_PC " 0x%lx", run->exit_reason,
			        (unsigned long)hvt_kvm_rip(h));
		}
	}
}

enum {
	OPT_MEM = 256,
	OPT_STACK,
	OPT_TIMEOUT,
	OPT_IDLE,
	OPT_BATCH,
	OPT_ENV,
	OPT_EVENT,
	OPT_EVENTS,
	OPT_QUEUE,
	OPT_KV,
	OPT_NOSECCOMP,
	OPT_FASTEXIT,
	OPT_REDIS,
	OPT_WORKFLOW,
	OPT_STEP,
	OPT_RETRIES,
	OPT_RETRY_DELAY,
	OPT_PUSH_ALLOW,
	OPT_CONSUMER,
	OPT_TAP,
	OPT_MAC,
	OPT_SOURCE,
	OPT_ATTRS,
	OPT_EGRESS,
	OPT_EGRESS_FD,
	OPT_PUBLISH,
	OPT_LIMIT,
	OPT_MANIFEST_LIMIT
};

static const struct option long_opts[] = {
    {"mem", required_argument, 0, OPT_MEM},
    {"stack", required_argument, 0, OPT_STACK},
    {"timeout-ms", required_argument, 0, OPT_TIMEOUT},
    {"idle-ms", required_argument, 0, OPT_IDLE},
    {"batch", required_argument, 0, OPT_BATCH},
    {"env", required_argument, 0, OPT_ENV},
    {"event", required_argument, 0, OPT_EVENT},
    {"events", required_argument, 0, OPT_EVENTS},
    {"queue", required_argument, 0, OPT_QUEUE},
    {"source", required_argument, 0, OPT_SOURCE},
    {"attrs", required_argument, 0, OPT_ATTRS},
    {"publish", required_argument, 0, OPT_PUBLISH},
    {"limit", required_argument, 0, OPT_LIMIT},
    {"manifest-limit", required_argument, 0, OPT_MANIFEST_LIMIT},
    {"kv", required_argument, 0, OPT_KV},
    {"no-seccomp", no_argument, 0, OPT_NOSECCOMP},
    {"fast-exit", no_argument, 0, OPT_FASTEXIT},
    {"redis", required_argument, 0, OPT_REDIS},
    {"workflow", required_argument, 0, OPT_WORKFLOW},
    {"step", required_argument, 0, OPT_STEP},
    {"retries", required_argument, 0, OPT_RETRIES},
    {"retry-delay-ms", required_argument, 0, OPT_RETRY_DELAY},
    {"push-allow", required_argument, 0, OPT_PUSH_ALLOW},
    {"consumer", required_argument, 0, OPT_CONSUMER},
    {"tap", required_argument, 0, OPT_TAP},
    {"mac", required_argument, 0, OPT_MAC},
    {"egress", required_argument, 0, OPT_EGRESS},
    {"egress-fd", required_argument, 0, OPT_EGRESS_FD},
    {"verbose", no_argument, 0, 'v'},
    {"help", no_argument, 0, 'h'},
    {0, 0, 0, 0},
};

static int bad_opt(const char *opt, const char *val, const char *why)
{
	fprintf(stderr, "uf-hvt: %s '%s': %s\n", opt, val, why);
	return -1;
}

/* --push-allow Q1,Q2,...: every name a queue name; empty: no queue at all. */
static int parse_push_allow(char *list, struct hvt_options *o)
{
	static const char *queues[64];
	o->push_allow_text = strdup(list[0] ? list : "none");
	o->push_allow = queues;
	o->npush_allow = 0;
	if (!list[0])
		return o->push_allow_text ? 0 : -1;
	if (!o->push_allow_text || list[0] == ',' || list[strlen(list) - 1] == ',' || strstr(list, ",,"))
		return -1;
	for (char *save = NULL, *q = strtok_r(list, ",", &save); q; q = strtok_r(NULL, ",", &save)) {
		if (!uf_queue_name_ok(q, strlen(q)) || o->npush_allow == 64)
			return -1;
		queues[o->npush_allow++] = q;
	}
	return 0;
}

/* --publish FILTER: one more MQTT topic filter (common/topic.h). */
static int add_publish(const char *f, struct hvt_options *o)
{
	static const char *filters[UF_PUBLISH_MAX];
	const char *why = "too many filters";
	size_t n = strlen(f), have = o->publish_text ? strlen(o->publish_text) : 0;
	if (o->npublish == UF_PUBLISH_MAX || n > UF_PUBLISH_LEN || !uf_topic_filter_ok(f, n, &why)) {
		fprintf(stderr, "uf-hvt: --publish '%.*s': %s (at most %d filters of %d bytes)\n",
		        (int)(n > 200 ? 200 : n), f, n > UF_PUBLISH_LEN ? "too long" : why, UF_PUBLISH_MAX,
		        UF_PUBLISH_LEN);
		return -1;
	}
	char *t = realloc(o->publish_text, have + n + 3);
	if (!t)
		return -1;
	snprintf(t + have, n + 3, "%s%s", have ? ", " : "", f);
	o->publish_text = t;
	o->publish = filters;
	filters[o->npublish++] = f;
	return 0;
}

/* --limit NAME=N (--manifest-limit: set by the function's manifest). */
static int parse_limit(const char *arg, struct uf_limits *l, int manifest)
{
	const char *eq = strchr(arg, '=');
	int i = eq ? uf_limit_find(arg, (size_t)(eq - arg)) : -1;
	uint64_t n = 0;
	if (i < 0)
		return bad_opt(manifest ? "--manifest-limit" : "--limit", arg,
		               "expected NAME=N, NAME one of value_bytes, event_bytes, writes_per_event, "
		               "commit_bytes, batch_commit_bytes, batch_commit_writes");
	if (parse_size(eq + 1, &n) < 0 || n < uf_limit_info[i].min || n > uf_limit_info[i].max) {
		char why[96];
		snprintf(why, sizeof(why), "must be %llu..%llu", (unsigned long long)uf_limit_info[i].min,
		         (unsigned long long)uf_limit_info[i].max);
		return bad_opt(manifest ? "--manifest-limit" : "--limit", arg, why);
	}
	l->v[i] = n;
	if (manifest)
		l->from_manifest |= 1u << i;
	else
		l->from_manifest &= ~(1u << i);
	return 0;
}

/*
 * The function's environment as unifaasd passes it (common/launch.h): each
 * UF_ENV_KEY=VALUE of ours becomes KEY=VALUE for the guest, in order, after
 * any --env.  Values are never printed: they may be secrets.
 */
static int env_from_environ(struct hvt_options *o)
{
	size_t plen = strlen(UF_FN_ENV_PREFIX);
	for (char **e = environ; *e; e++) {
		const char *kv = *e + plen;
		if (strncmp(*e, UF_FN_ENV_PREFIX, plen) || kv[0] == '=' || !strchr(kv, '='))
			continue;
		if (o->nenv == UF_ENV_MAX) {
			fprintf(stderr, "uf-hvt: environment: more than %d %s* variables\n", UF_ENV_MAX,
			        UF_FN_ENV_PREFIX);
			return -1;
		}
		o->env[o->nenv++] = kv;
	}
	return 0;
}

static int parse_args(int argc, char **argv, struct hvt_options *o, struct uf_local_opts *lo, struct uf_redis_opts *ro,
                      int *seccomp)
{
	static const char *env[UF_ENV_MAX + 1], *events[4096];
	o->env = env;
	lo->events = events;
	int c;
	opterr = 0; /* our own messages, the same whatever the libc */
	while ((c = getopt_long(argc, argv, ":vh", long_opts, NULL)) != -1) {
		switch (c) {
		case OPT_MEM:
			if (parse_size(optarg, &o->mem_size) < 0 || o->mem_size < UF_MEM_MIN ||
			    o->mem_size > UF_MEM_MAX || o->mem_size % (2u << 20))
				return bad_opt("--mem", optarg, "must be a multiple of 2M between 4M and 1G");
			break;
		case OPT_STACK:
			if (parse_size(optarg, &o->stack_size) < 0 || o->stack_size < (16u << 10) ||
			    o->stack_size % UF_PAGE_SIZE || o->stack_size > (64u << 20))
				return bad_opt("--stack", optarg, "must be a multiple of 4K between 16K and 64M");
			break;
		case OPT_TIMEOUT:
			if (parse_u32(optarg, &o->timeout_ms) < 0)
				return bad_opt("--timeout-ms", optarg, "not a number of milliseconds");
			break;
		case OPT_IDLE:
			if (parse_u32(optarg, &o->idle_ms) < 0)
				return bad_opt("--idle-ms", optarg, "not a number of milliseconds");
			break;
		case OPT_BATCH:
			if (parse_u32(optarg, &o->batch_max) < 0 || o->batch_max == 0 || o->batch_max > UF_BATCH_MAX)
				return bad_opt("--batch", optarg, "must be 1..256");
			break;
		case OPT_ENV:
			if (!strchr(optarg, '=') || optarg[0] == '=')
				return bad_opt("--env", optarg, "expected KEY=VALUE");
			if (o->nenv == UF_ENV_MAX)
				return bad_opt("--env", optarg,
				               "too many variables (see UF_ENV_MAX in common/launch.h)");
			env[o->nenv++] = optarg;
			break;
		case OPT_EVENT:
			if (lo->nevents == 4096)
				return bad_opt("--event", optarg, "more than 4096 --event options; use --events FILE");
			events[lo->nevents++] = optarg;
			break;
		case OPT_EVENTS:
			lo->events_file = optarg;
			break;
		case OPT_QUEUE:
			lo->queue = optarg;
			break;
		case OPT_SOURCE:
			lo->source = optarg;
			break;
		case OPT_PUBLISH:
			if (add_publish(optarg, o) < 0)
				return -1;
			break;
		case OPT_LIMIT:
		case OPT_MANIFEST_LIMIT:
			if (parse_limit(optarg, &o->limits, c == OPT_MANIFEST_LIMIT) < 0)
				return -1;
			break;
		case OPT_ATTRS:
			if (optarg[0] != '{' || optarg[strlen(optarg) - 1] != '}')
				return bad_opt("--attrs", optarg, "must be a JSON object, {...}");
			lo->attrs = optarg;
			break;
		case OPT_KV:
			lo->kv_file = optarg;
			break;
		case OPT_NOSECCOMP:
			*seccomp = 0;
			break;
		case OPT_FASTEXIT:
			o->fast_exit = 1;
			break;
		case OPT_REDIS:
			ro->socket = optarg;
			break;
		case OPT_RETRIES:
			if (parse_u32(optarg, &ro->retries) < 0 || ro->retries > 1000000)
				return bad_opt("--retries", optarg, "must be a number of retries, 0..1000000");
			break;
		case OPT_RETRY_DELAY:
			if (parse_u32(optarg, &ro->retry_delay_ms) < 0 || ro->retry_delay_ms > UF_DEFER_MAX_MS)
				return bad_opt("--retry-delay-ms", optarg,
				               "must be a number of milliseconds, 0..3600000");
			break;
		case OPT_PUSH_ALLOW:
			if (parse_push_allow(optarg, o) < 0)
				return bad_opt(
				    "--push-allow", o->push_allow_text ? o->push_allow_text : optarg,
				    "must be 0..64 queue names (1..128 of [A-Za-z0-9._-]) separated by commas");
			break;
		case OPT_WORKFLOW:
		case OPT_STEP:
		case OPT_CONSUMER: { /* the rules of names (common/rules.h); a consumer is named like a queue */
			enum uf_name_kind k = c == OPT_WORKFLOW ? UF_NAME_WORKFLOW
			                      : c == OPT_STEP   ? UF_NAME_STEP
			                                        : UF_NAME_QUEUE;
			if (!uf_name_ok(k, optarg, strlen(optarg)))
				return bad_opt(c == OPT_WORKFLOW ? "--workflow"
				               : c == OPT_STEP   ? "--step"
				                                 : "--consumer",
				               optarg,
				               k == UF_NAME_QUEUE ? "must be " UF_NAME_RULE_QUEUE
				                                  : "must be " UF_NAME_RULE_SHORT);
			*(c == OPT_WORKFLOW ? &ro->workflow : c == OPT_STEP ? &ro->group : &ro->consumer) = optarg;
			break;
		}
		case OPT_TAP:
			o->tap = optarg;
			break;
		case OPT_MAC:
			if (hvt_net_parse_mac(optarg, o->mac) < 0)
				return bad_opt("--mac", optarg, "expected a unicast MAC such as 02:00:00:00:00:01");
			o->mac_set = 1;
			break;
		case OPT_EGRESS:
			o->egress = optarg;
			break;
		case OPT_EGRESS_FD: {
			uint32_t fd;
			if (parse_u32(optarg, &fd) < 0 || fd < 3 || fd > 1024)
				return bad_opt("--egress-fd", optarg, "expected an open descriptor number, 3..1024");
			o->egress_fd = (int)fd;
			break;
		}
		case 'v':
			o->verbose = 1;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		case ':':
			fprintf(stderr, "uf-hvt: option '%s' needs a value\n", argv[optind - 1]);
			usage(stderr);
			return -1;
		default:
			fprintf(stderr, "uf-hvt: unknown option '%s'\n", argv[optind - 1]);
			usage(stderr);
			return -1;
		}
	}
	if (env_from_environ(o) < 0)
		return -1;
	if (optind != argc - 1) {
		fprintf(stderr, "uf-hvt: expected one IMAGE argument\n");
		usage(stderr);
		return -1;
	}
	o->image = argv[optind];
	if (o->stack_size * 2 > o->mem_size) {
		fprintf(stderr, "uf-hvt: --stack %lu KiB: must be at most half of --mem (%lu KiB)\n",
		        (unsigned long)(o->stack_size >> 10), (unsigned long)(o->mem_size >> 10));
		return -1;
	}
	if (!uf_queue_name_ok(lo->queue, strlen(lo->queue)))
		return bad_opt("--queue", lo->queue, "must be 1..128 of [A-Za-z0-9._-]");
	if (lo->nevents == 0 && !lo->events_file)
		lo->events_file = "-";
	o->publish_any = !ro->socket && o->npublish == 0; /* a local run: any topic */
	char why[256];
	if (uf_limits_check(&o->limits, why, sizeof(why)) < 0) {
		fprintf(stderr, "uf-hvt: --limit: %s\n", why);
		return -1;
	}
	return 0;
}

int hvt_main(int argc, char **argv)
{
	uint64_t t0 = hvt_now_ns();
	struct hvt h = {.kvm_fd = -1, .vm_fd = -1, .vcpu_fd = -1, .console_fd = 2};
	struct uf_local_opts lo = {.queue = "input", .out_fd = 1, .err_fd = 2};
	int use_seccomp = 1;
	char err[512];
	h.opt = (struct hvt_options){.mem_size = 8u << 20, .stack_size = UF_STACK_DEFAULT, .batch_max = 64};
	uf_limits_defaults(&h.opt.limits);
	char consumer[32];
	snprintf(consumer, sizeof(consumer), "unit-%d", (int)getpid());
	struct uf_redis_opts ro = {.workflow = "default", .consumer = consumer, .retries = 3};
	if (uf_no_core_dumps() < 0) { /* before any credential, secret or guest byte arrives */
		fprintf(stderr, "uf-hvt: cannot turn core dumps off: %s\n", strerror(errno));
		return UF_END_INTERNAL;
	}
	if ((argc == 2 || (argc == 3 && !argv[2][strspn(argv[2], " ")])) && !strcmp(argv[1], "--standby")) {
		/* see hvt_standby.c */
		if (hvt_kvm_create(&h, err, sizeof(err)) < 0) {
			fprintf(stderr, "uf-hvt: standby: %s\n", err);
			return UF_END_INTERNAL;
		}
		int r = hvt_standby_wait(&argc, &argv, err, sizeof(err));
		if (r <= 0) {
			if (r < 0)
				fprintf(stderr, "uf-hvt: %s\n", err);
			hvt_kvm_close(&h);
			return r < 0 ? UF_END_USAGE : UF_END_EXIT;
		}
		t0 = hvt_now_ns(); /* boot timing counts from the launch */
	}
	if (parse_args(argc, argv, &h.opt, &lo, &ro, &use_seccomp) < 0)
		return UF_END_USAGE;
	h.mem_size = h.opt.mem_size;
	h.t_start_ns = t0;
	signal(SIGPIPE, SIG_IGN);
	struct sigaction drain = {.sa_sigaction = on_drain, .sa_flags = SA_RESTART | SA_SIGINFO};
	sigemptyset(&drain.sa_mask);
	sigaction(SIGUSR1, &drain, NULL);
	drain.sa_sigaction = on_drain_deadline;
	sigaction(UF_DRAIN_DEADLINE_SIGNAL, &drain, NULL);
	the_hvt = &h;

	if (ro.socket) {
		ro.queue = lo.queue;
		ro.group = ro.group ? ro.group : lo.queue;
		ro.count = h.opt.batch_max;
		ro.chunk_bytes = h.opt.limits.v[UF_LIM_BATCH_BYTES];
		ro.chunk_writes = h.opt.limits.v[UF_LIM_BATCH_WRITES];
		h.opt.unit = ro.consumer;
		h.opt.workflow = ro.workflow;
		h.opt.step = ro.group;
		h.backend = uf_redis_backend_open(&ro, err, sizeof(err));
	} else {
		lo.line_max = h.opt.mem_size;
		h.backend = uf_local_backend_open(&lo, err, sizeof(err));
	}
	if (!h.backend) {
		fprintf(stderr, "uf-hvt: %s\n", err);
		return UF_END_USAGE;
	}
	uint64_t rsp = 0, t_vm, t_load, t_boot;
	timer_t timer = 0;
	int timer_armed = 0;
	int code = UF_END_NET;
	if (h.opt.tap && hvt_net_open(&h, err, sizeof(err)) < 0)
		goto fail;
	code = UF_END_INTERNAL;
	if (hvt_egress_open(&h, err, sizeof(err)) < 0)
		goto fail;
	if (hvt_kvm_open(&h, err, sizeof(err)) < 0)
		goto fail;
	t_vm = hvt_now_ns();
	code = UF_END_USAGE;
	if (hvt_elf_load(&h, h.opt.image, err, sizeof(err)) < 0 || hvt_boot_setup(&h, &rsp, err, sizeof(err)) < 0)
		goto fail;
	t_load = hvt_now_ns();
	code = UF_END_INTERNAL;
	if (hvt_boot_vcpu(&h, rsp, err, sizeof(err)) < 0)
		goto fail;
	code = UF_END_USAGE;
	if (h.backend->ready && h.backend->ready(h.backend, err, sizeof(err)) < 0)
		goto fail;
	code = UF_END_INTERNAL;
	if (h.opt.fast_exit && hvt_reaper_start(&h, err, sizeof(err)) < 0)
		goto fail;
	if (arm_timer(&h, &timer) < 0) {
		snprintf(err, sizeof(err), "cannot arm the CPU-time timer: %s", strerror(errno));
		goto fail;
	}
	timer_armed = h.opt.timeout_ms != 0;
	if (use_seccomp && hvt_seccomp_apply(&h, err, sizeof(err)) < 0)
		goto fail;
	t_boot = hvt_now_ns();

	run_vcpu(&h);
	disarm_timer(timer, timer_armed);
	hvt_dataplane_settle(&h); /* a batch still in flight when the unit ended */

	if (h.opt.verbose)
		hvt_printf(2, "uf-hvt: %s: timing: vm_us=%lu load_us=%lu vcpu_us=%lu ready_us=%ld total_us=%lu\n",
		           h.opt.image, (unsigned long)(t_vm - t0) / 1000, (unsigned long)(t_load - t_vm) / 1000,
		           (unsigned long)(t_boot - t_load) / 1000,
		           h.t_ready_ns ? (long)((h.t_ready_ns - t0) / 1000) : -1L,
		           (unsigned long)(hvt_now_ns() - t0) / 1000);
	h.backend->close(h.backend, 1);
	hvt_egress_close(&h);
	if (h.end_code != UF_END_EXIT || h.opt.verbose)
		hvt_printf(2, "uf-hvt: %s: %s\n", h.opt.image, h.end_reason);
	if (!h.opt.fast_exit)
		hvt_kvm_close(&h); /* else the reaper destroys the VM (hvt_reaper.c) */
	return h.end_code;

fail:
	disarm_timer(timer, timer_armed);
	fprintf(stderr, "uf-hvt: %s: %s\n", h.opt.image, err);
	h.backend->close(h.backend, 0);
	hvt_egress_close(&h);
	hvt_kvm_close(&h);
	return code;
}
