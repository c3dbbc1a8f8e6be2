/*
 * registry.c - deployed workflows: deploy, undeploy, restore, ACL users.
 *
 * A deploy is checked whole before anything changes: the manifest parses
 * and passes every check (manifest.c), every image is read once, checked
 * exactly as the tender checks it (common/image.c: an image the tender
 * would refuse is refused here, with its reason) and copied into
 * <state>/images/<wf>/ under a temporary name, the ACL user, consumer
 * groups and Redis state are written; only then are the images renamed
 * into place and the previous workflow of that name retired.  So a failed
 * deploy leaves the deployed workflow running as it was.  The Redis writes
 * of a deploy or undeploy (and a purge's SCAN/UNLINK chain) are sent from
 * the loop without waiting (store_send); the last reply commits or undoes
 * the deploy (deploy_commit) and ends the request (registry_done_fn).  One
 * deploy or undeploy per workflow name is under way at a time (another is
 * refused, 409), so their writes never interleave.  Only the restore at
 * start reads Redis synchronously, before the loop runs, and whole: every
 * state hash is read before the first workflow is made, so a read that
 * fails applies nothing and main.c reads again once Redis answers.
 *
 * Redis keeps what a restart needs: uf:state:workflows (set of names) and
 * uf:state:wf:<name> (hash: yaml, file, dir, state, reason, acl_pass).  The
 * ACL user of a workflow (uf-wf-<name>) may touch only its own keys and only
 * the commands a tender uses; Redis does not persist ACL users set at run
 * time, so they are re-applied on start and whenever Redis comes back.
 * A workflow being undeployed leaves the list at once but is freed only
 * when its last unit has exited (units point at their step).  Undeployed
 * without purge, it is "kept": uf:state:kept lists it and
 * uf:state:queues:<wf> its queues, so its queues, dead letters and KV stay
 * readable (inspect.c) until a purge or a new deploy.  Its units are
 * drained and keep the ACL user until the last of them has ended, so each
 * commits the batch it handled (nothing is done twice); then the user is
 * deleted (acl_release) and, after that, its delayed re-queues
 * (uf:delay:<wf>:*) are moved into its queues (delay.c), so that no unit
 * of it can add more.  The user stays while it is needed: a workflow of
 * that name deployed or being deployed (a deploy while the old units
 * drain shares their user and password, as deploy --replace does), or
 * units of one undeployed or replaced still ending.  A release Redis did
 * not answer is sent again when it is back (a Redis that restarted lost
 * the user anyway); units still ending get their user re-applied then too;
 * a daemon that starts deletes the users of the kept workflows (the units
 * of the previous one are killed: units_cleanup_previous), which a Redis
 * that did not restart still has.  A purge deletes the user at once, even
 * while units still end (they can no longer write what it deletes), and
 * its queues, delayed re-queues, dead letters, KV, counters, describe's
 * unit ends (uf:state:ends:<wf>:*), kept state, images and logs, and its
 * unit numbers once its last unit is gone (forget_numbers).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include "image.h"
#include "delivery.h"
#include "logs.h"
#include "mqtt.h"
#include "secret.h"
#include "metrics.h"
#include "secrets.h"
#include "store.h"
#include "delay.h"
#include "cpu_groups.h"
#include "unifaasd.h"

static void forget_kept(struct daemon *d, const char *name, int purge);
static void forget_numbers(struct daemon *d, const char *name);
static void acl_release(struct daemon *d, const char *name, const char *why);
static void release_resend(void);

/* The Redis ACL user of workflow `name`: uf-wf-<name>. */
static void acl_user_name(char *out, size_t cap, const char *name)
{
	snprintf(out, cap, "uf-wf-%s", name);
}

/* The workflow's ACL user, sent (cb gets the reply; NULL: an error is logged). */
static int acl_send(struct daemon *d, struct workflow *w, store_cb cb, void *arg)
{
	const char *n = w->m->name;
	char pass[80], keys[5][128], chan[128], cmds[UF_UNIT_NCOMMANDS][32], outbox[128], sel[160], qsel[160];
	const char *argv[17 + UF_UNIT_NCOMMANDS];
	int argc = 0;
	snprintf(pass, sizeof(pass), ">%s", w->acl_pass);
	snprintf(keys[0], sizeof(keys[0]), "~uf:q:%s:*", n);
	snprintf(keys[1], sizeof(keys[1]), "~uf:kv:%s:*", n);
	snprintf(keys[2], sizeof(keys[2]), "~uf:dlq:%s:*", n);
	snprintf(keys[3], sizeof(keys[3]), "~uf:stat:%s:*", n);
	snprintf(keys[4], sizeof(keys[4]), "~" UF_DELAY_KEY "%s:*", n); /* delayed re-queues (delivery.h) */
	snprintf(chan, sizeof(chan), "&" UF_REPLY_CHANNEL "%s", n);     /* invoke replies: its own channel only */
	const char *head[] = {"ACL",   "SETUSER", w->acl_user, "reset",         "on", pass,   keys[0], keys[1],
	                      keys[2], keys[3],   keys[4],     "resetchannels", chan, "-@all"};
	for (size_t i = 0; i < sizeof(head) / sizeof(*head); i++)
		argv[argc++] = head[i];
	for (size_t i = 0; i < UF_UNIT_NCOMMANDS; i++) { /* exactly what units send (common/delivery.h) */
		snprintf(cmds[i], sizeof(cmds[i]), "+%s", uf_unit_commands[i]);
		argv[argc++] = cmds[i];
	}
	/* its own MQTT outbox: XADD only (a Redis 7 selector with a
	 * write-only key permission), so a unit adds its publishes but cannot
	 * read, acknowledge or delete them, nor add to another workflow's */
	uf_outbox_key(outbox, sizeof(outbox), n);
	snprintf(sel, sizeof(sel), "(%%W~%s +xadd)", outbox);
	argv[argc++] = sel;
	/* whether the workflow is over its storage quota (quota.c): read only */
	snprintf(qsel, sizeof(qsel), "(%%R~" UF_QUOTA_KEY "%s +get)", n);
	argv[argc++] = qsel;
	return store_sendv(d->store, cb, arg, argc, argv, NULL);
}

/* A workflow of that name undeployed or replaced, not purged, whose units
 * are still ending (they commit with its user), or NULL. */
static struct workflow *ending(struct daemon *d, const char *name)
{
	for (struct workflow *w = d->retired; w; w = w->next)
		if (!w->purged && w->running && !strcmp(w->m->name, name))
			return w;
	return NULL;
}

void registry_reapply_acls(void *arg)
{
	struct daemon *d = arg;
	/* Redis is back: re-applied without blocking the loop */
	for (struct workflow *w = d->workflows; w; w = w->next)
		acl_send(d, w, NULL, NULL);
	for (struct workflow *w = d->retired; w; w = w->next) /* units still ending, once per name */
		if (w == ending(d, w->m->name) && !registry_find(d, w->m->name))
			acl_send(d, w, NULL, NULL);
	release_resend();
}

struct workflow *registry_find(struct daemon *d, const char *name)
{
	for (struct workflow *w = d->workflows; w; w = w->next)
		if (!strcmp(w->m->name, name))
			return w;
	return NULL;
}

struct step *registry_find_step(struct daemon *d, const char *wf, const char *step, uint64_t serial)
{
	struct workflow *w = registry_find(d, wf);
	if (w && serial && w->serial != serial)
		return NULL; /* replaced meanwhile */
	for (size_t i = 0; w && i < w->m->nfunctions; i++)
		if (!strcmp(w->steps[i].fn->name, step))
			return &w->steps[i];
	return NULL;
}

static void free_workflow(struct workflow *w)
{
	if (!w)
		return;
	for (size_t i = 0; w->steps && i < w->m->nfunctions; i++)
		logfile_close(w->steps[i].log);
	free(w->steps);
	uf_manifest_free(w->m);
	free(w);
}

/* Reads a whole image, at most max bytes (more could never run): a
 * malloc'd buffer, or NULL with err. */
static uint8_t *read_image(const char *path, uint64_t max, size_t *len, char *err, size_t errlen)
{
	struct stat st;
	uint8_t *buf = NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto out;
	}
	if ((uint64_t)st.st_size > max) {
		snprintf(err, errlen, "%s: image of %lld bytes is larger than the memory budget", path,
		         (long long)st.st_size);
		goto out;
	}
	buf = malloc((size_t)st.st_size + 1);
	ssize_t n = buf ? read(fd, buf, (size_t)st.st_size + 1) : -1; /* one more: it must not have grown */
	if (n != st.st_size) {
		snprintf(err, errlen, "%s: %s", path, n < 0 ? strerror(errno) : "changed while it was read");
		free(buf);
		buf = NULL;
		goto out;
	}
	*len = (size_t)n;
out:
	if (fd >= 0)
		close(fd);
	return buf;
}

/*
 * Stages function f's image at `to`: the bytes are read once, checked with
 * the tender's own check (common/image.c, for f's memory budget), and
 * written and synced under a temporary name; an image the tender would
 * refuse is refused here with the tender's reason (*bad set: a 422).
 */
static int stage_image(const struct uf_function *f, const char *to, int *bad, char *err, size_t errlen)
{
	char tmp[4600], why[256];
	size_t len = 0;
	struct uf_image img;
	int out = -1, rc = -1;
	uint8_t *buf = read_image(f->image, f->memory, &len, err, errlen);
	if (!buf)
		return -1;
	if (uf_image_check(buf, len, f->memory, &img, why, sizeof(why)) < 0) {
		*bad = 1;
		snprintf(err, errlen, "functions.%s.image: %s: %s", f->name, f->image, why);
		goto out;
	}
	snprintf(tmp, sizeof(tmp), "%s.tmp", to);
	out = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (out < 0 || write(out, buf, len) != (ssize_t)len || fsync(out) < 0 || rename(tmp, to) < 0) {
		snprintf(err, errlen, "%s: %s", out < 0 ? tmp : to, strerror(errno));
		if (out >= 0)
			unlink(tmp);
		goto out;
	}
	rc = 0;
out:
	if (out >= 0)
		close(out);
	free(buf);
	return rc;
}

static void image_path(struct daemon *d, const char *wf, const char *step, char *out, size_t cap)
{
	snprintf(out, cap, "%s/images/%s/%s.uf", d->cfg.state_dir, wf, step);
}

/* Build the in-memory workflow; images must already be in the state dir. */
static struct workflow *make_workflow(struct daemon *d, struct uf_manifest *m, char *err, size_t errlen)
{
	struct workflow *w = calloc(1, sizeof(*w));
	if (!w || !(w->steps = calloc(m->nfunctions ? m->nfunctions : 1, sizeof(*w->steps)))) {
		free(w);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	static uint64_t serials;
	w->d = d;
	w->m = m;
	w->serial = ++serials;
	acl_user_name(w->acl_user, sizeof(w->acl_user), m->name);
	for (size_t i = 0; i < m->nfunctions; i++) {
		struct step *s = &w->steps[i];
		char path[4300];
		s->wf = w;
		s->fn = &m->functions[i];
		image_path(d, m->name, s->fn->name, s->image, sizeof(s->image));
		snprintf(path, sizeof(path), "%s/logs/%s/%s.log", d->cfg.state_dir, m->name, s->fn->name);
		if (!(s->log = logfile_open(path, d->cfg.log_cap, err, errlen))) {
			w->m = NULL; /* the caller still owns m */
			free_workflow(w);
			return NULL;
		}
	}
	return w;
}

/* Whether a setup write went through (a group that exists is fine). */
static int written_ok(const redisReply *r)
{
	return r && (r->type != REDIS_REPLY_ERROR || !strncmp(r->str, "BUSYGROUP", 9));
}

/* A restored workflow's setup: only logged. */
static void restore_written(redisReply *r, void *arg)
{
	(void)arg;
	if (!written_ok(r))
		dlog("error", "what=restore op=setup cause=\"%s\"", r ? r->str : "no answer from redis");
}

/* ACL user and consumer groups, sent; *sent counts the commands that
 * were (their replies will come).  -1 if one could not be. */
static int send_setup(struct daemon *d, struct workflow *w, store_cb cb, void *arg, int *sent)
{
	if (acl_send(d, w, cb, arg) < 0)
		return -1;
	++*sent;
	for (size_t i = 0; i < w->m->nfunctions; i++) {
		const struct uf_function *f = &w->m->functions[i];
		if (store_send(d->store, cb, arg, "XGROUP CREATE uf:q:%s:%s %s 0 MKSTREAM", w->m->name, f->listen,
		               f->name) < 0)
			return -1;
		++*sent;
	}
	return 0;
}

void registry_set_state(struct workflow *w, enum wf_state s, const char *reason)
{
	w->state = s;
	snprintf(w->reason, sizeof(w->reason), "%s", reason ? reason : "");
	/* from the loop: sent, not waited for (a lost write is logged) */
	if (store_send(w->d->store, NULL, NULL, "HSET uf:state:wf:%s state %s reason %s", w->m->name,
	               s == WF_STOPPED ? "stopped" : "running", w->reason) < 0)
		dlog("warn",
		     "what=redis op=hset workflow=%s state=%s cause=\"redis unreachable\" effect=\"not kept "
		     "across a restart\"",
		     w->m->name, s == WF_STOPPED ? "stopped" : "running");
	mqtt_sync(w->d->mqtt, w->m->name); /* stopped: its MQTT messages wait in the broker */
}

static void unlink_workflow(struct daemon *d, struct workflow *w)
{
	for (struct workflow **p = &d->workflows; *p; p = &(*p)->next)
		if (*p == w) {
			*p = w->next;
			return;
		}
}

/* Called by units.c when a unit of a removed workflow is gone. */
void registry_unit_gone(struct workflow *w)
{
	if (!w->removed || w->running)
		return;
	for (struct workflow **p = &w->d->retired; *p; p = &(*p)->next)
		if (*p == w) {
			*p = w->next;
			break;
		}
	char name[UF_NAME_BUF];
	snprintf(name, sizeof(name), "%s", w->m->name);
	struct daemon *d = w->d;
	int purged = w->purged;
	free_workflow(w);
	cpu_groups_gone(d, name);
	if (purged) /* its last unit is gone: its numbers can go too */
		forget_numbers(d, name);
	else /* and its user, unless another needs it (a purge deleted it) */
		acl_release(d, name, "its last unit has ended");
}

static void retire(struct daemon *d, struct workflow *w, const char *why)
{
	unlink_workflow(d, w);
	w->removed = 1;
	w->next = d->retired;
	d->retired = w;
	for (size_t i = 0; i < w->m->nfunctions; i++)
		units_stop_step(&w->steps[i], STOP_UNDEPLOY, why);
	registry_unit_gone(w);
}

/* A deploy or undeploy whose Redis writes are out; its last reply ends it
 * (store_send answers every command within STORE_TIMEOUT_MS). */
struct op {
	struct op *next;
	struct daemon *d;
	struct workflow *w; /* deploy: the new workflow, linked only once Redis took it */
	char name[UF_NAME_BUF];
	char file[256];
	int undeploy; /* an undeploy (and its purge), not a deploy */
	int calls, failed, purge, prefix;
	char cursor[32];
	char why[256];
	registry_done_fn done;
	void *arg;
};

/* The deploys and undeploys under way: one per name at a time.  Their
 * writes to one workflow's keys must not interleave (an undeploy's ACL
 * DELUSER after a deploy's ACL SETUSER left a deployed workflow without its
 * user; a purge's UNLINK after a deploy's XGROUP CREATE, without its queue). */
static struct op *busy;

static void op_hold(struct op *op)
{
	op->next = busy;
	busy = op;
}

static void op_release(struct op *op)
{
	for (struct op **p = &busy; *p; p = &(*p)->next)
		if (*p == op) {
			*p = op->next;
			break;
		}
}

static void op_end(struct op *op, int status, const char *err)
{
	op_release(op);
	op->done(op->arg, status, op->name, err);
	free(op);
}

/* 0, or -1 with a 409 when a deploy or undeploy of `name` is under way. */
static int name_free(const char *name, char *err, size_t errlen, int *http_status)
{
	for (struct op *op = busy; op; op = op->next)
		if (!strcmp(op->name, name)) {
			*http_status = 409;
			snprintf(err, errlen, "workflow '%s' is being %s right now; retry when that is done", name,
			         op->undeploy ? "undeployed" : "deployed");
			return -1;
		}
	return 0;
}

/* ---- releasing a workflow's ACL user once nothing needs it ---- */

/* Whether the ACL user of `name` must stay: a workflow of that name is
 * deployed or being deployed (the user is its own), or units of one
 * undeployed or replaced, not purged, are still ending. */
static int user_needed(struct daemon *d, const char *name)
{
	if (registry_find(d, name) || ending(d, name))
		return 1;
	for (struct op *op = busy; op; op = op->next)
		if (!op->undeploy && !strcmp(op->name, name))
			return 1;
	return 0;
}

/* A user being deleted: ACL DELUSER, then its kept workflow's delayed
 * re-queues moved into its queues (uf:state:queues:<wf> lists them).  Kept
 * until that is sent: one Redis did not answer is sent again when it is
 * back (release_resend). */
struct release {
	struct release *next;
	struct daemon *d;
	char name[UF_NAME_BUF];
	char why[64];
	int out;       /* a command of it is out */
	int cancelled; /* purged meanwhile: the purge deletes the user and the delayed events */
};

static struct release *releasing;

static void release_end(struct release *rel)
{
	for (struct release **p = &releasing; *p; p = &(*p)->next)
		if (*p == rel) {
			*p = rel->next;
			break;
		}
	free(rel);
}

/* Its queues' delayed events join them (due or not), unless the name is
 * needed again meanwhile (a deployed workflow's are moved as they fall
 * due) or purged. */
static void release_flush(redisReply *r, void *arg)
{
	struct release *rel = arg;
	if (!r || r->type != REDIS_REPLY_ARRAY)
		dlog("warn",
		     "what=undeploy workflow=%s op=smembers cause=\"%s\" effect=\"its delayed events stay in %s%s:* "
		     "(moved when it is deployed again)\"",
		     rel->name, r && r->type == REDIS_REPLY_ERROR ? r->str : "no answer from redis", UF_DELAY_KEY,
		     rel->name);
	else if (!rel->cancelled && !user_needed(rel->d, rel->name)) /* checked again: a reply later */
		for (size_t i = 0; i < r->elements; i++)
			if (r->element[i]->type == REDIS_REPLY_STRING)
				delay_flush(rel->d, rel->name, r->element[i]->str);
	release_end(rel);
}

static void release_send(struct release *rel);

static void release_deleted(redisReply *r, void *arg)
{
	struct release *rel = arg;
	rel->out = 0;
	if (rel->cancelled) {
		release_end(rel);
		return;
	}
	if (!r) { /* the store reconnects: sent again then (release_resend) */
		dlog("warn",
		     "what=acl op=deluser workflow=%s cause=\"no answer from redis\" action=\"sent again once "
		     "redis is back\"",
		     rel->name);
		return;
	}
	if (r->type == REDIS_REPLY_ERROR)
		dlog("error", "what=acl op=deluser workflow=%s cause=\"%s\"", rel->name, r->str);
	else if (r->type != REDIS_REPLY_INTEGER || r->integer) /* 0: no such user (a Redis restarted) */
		dlog("info", "what=acl op=deluser workflow=%s deleted=%lld reason=\"%s\"", rel->name,
		     r->type == REDIS_REPLY_INTEGER ? r->integer : 0, rel->why);
	if (user_needed(rel->d, rel->name)) { /* deployed again meanwhile: all of it is the new one's */
		release_end(rel);
		return;
	}
	/* after DELUSER, no unit of it can add more: the MQTT publishes its
	 * last commits staged go as the undeploy's did (its session is over),
	 * and its delayed events join its queues */
	store_send(rel->d->store, NULL, NULL, "UNLINK " UF_OUTBOX_MQTT "%s", rel->name);
	if (store_send(rel->d->store, release_flush, rel, "SMEMBERS uf:state:queues:%s", rel->name) < 0)
		release_flush(NULL, rel);
	else
		rel->out = 1;
}

/* Sent, unless the user is needed again (then it is its user's). */
static void release_send(struct release *rel)
{
	char user[96];
	if (user_needed(rel->d, rel->name)) {
		release_end(rel);
		return;
	}
	acl_user_name(user, sizeof(user), rel->name);
	if (store_send(rel->d->store, release_deleted, rel, "ACL DELUSER %s", user) < 0)
		dlog("warn",
		     "what=acl op=deluser workflow=%s cause=\"redis unreachable\" action=\"sent again once "
		     "redis is back\"",
		     rel->name);
	else
		rel->out = 1;
}

/* Deletes the ACL user of `name` unless it is needed (user_needed);
 * whoever needs it then releases it when done. */
static void acl_release(struct daemon *d, const char *name, const char *why)
{
	if (user_needed(d, name))
		return;
	for (struct release *rel = releasing; rel; rel = rel->next)
		if (!rel->cancelled && !strcmp(rel->name, name))
			return; /* under way, or sent again once Redis is back */
	struct release *rel = calloc(1, sizeof(*rel));
	if (!rel) {
		dlog("error",
		     "what=acl op=deluser workflow=%s cause=\"out of memory\" effect=\"deleted at the next "
		     "start of unifaasd\"",
		     name);
		return;
	}
	rel->d = d;
	snprintf(rel->name, sizeof(rel->name), "%s", name);
	snprintf(rel->why, sizeof(rel->why), "%s", why);
	rel->next = releasing;
	releasing = rel;
	release_send(rel);
}

/* Redis is back: the releases it did not take, again. */
static void release_resend(void)
{
	for (struct release *rel = releasing, *next; rel; rel = next) {
		next = rel->next;
		if (!rel->out && !rel->cancelled)
			release_send(rel);
	}
}

/* A purge deletes the user and the delayed events itself. */
static void release_cancel(const char *name)
{
	for (struct release *rel = releasing, *next; rel; rel = next) {
		next = rel->next;
		if (strcmp(rel->name, name))
			continue;
		rel->cancelled = 1;
		if (!rel->out)
			release_end(rel);
	}
}

static void kept_listed(redisReply *r, void *arg)
{
	struct daemon *d = arg;
	if (!r || r->type != REDIS_REPLY_ARRAY) {
		dlog("warn",
		     "what=restore op=\"smembers uf:state:kept\" cause=\"%s\" effect=\"users of kept workflows "
		     "left until the next start\"",
		     r && r->type == REDIS_REPLY_ERROR ? r->str : "no answer from redis");
		return;
	}
	for (size_t i = 0; i < r->elements; i++)
		if (r->element[i]->type == REDIS_REPLY_STRING)
			acl_release(d, r->element[i]->str, "kept, not deployed, at start");
}

void registry_release_kept(struct daemon *d)
{
	if (store_send(d->store, kept_listed, d, "SMEMBERS uf:state:kept") < 0)
		kept_listed(NULL, d);
}

static void note_failure(struct op *op, const redisReply *r)
{
	if (!op->failed++)
		snprintf(op->why, sizeof(op->why), "%s", r ? r->str : "no answer from redis");
}

/* Redis took every write: the images go into place, the workflow is
 * deployed (the previous one of its name retired). */
static void deploy_commit(struct op *op)
{
	struct daemon *d = op->d;
	struct workflow *w = op->w, *old = registry_find(d, op->name); /* found again: it may have gone */
	char err[4600];
	if (op->failed) {
		snprintf(err, sizeof(err), "redis: could not store workflow '%s' (%s; is redis-server up?)", op->name,
		         op->why);
		if (old) /* the user is shared: the old units keep theirs */
			acl_send(d, old, NULL, NULL);
		free_workflow(w);
		char name[UF_NAME_BUF];
		snprintf(name, sizeof(name), "%s", op->name);
		op_end(op, 503, err);
		acl_release(d, name, "its deploy failed"); /* unless deployed, or units still end */
		return;
	}
	for (size_t i = 0; i < w->m->nfunctions; i++) {
		char to[4300], staged[4400];
		image_path(d, w->m->name, w->m->functions[i].name, to, sizeof(to));
		snprintf(staged, sizeof(staged), "%s.new", to);
		if (rename(staged, to) < 0) { /* same directory: does not happen in practice */
			snprintf(err, sizeof(err), "%s: %s", to, strerror(errno));
			free_workflow(w);
			op_end(op, 500, err);
			return;
		}
	}
	if (old)
		retire(d, old, "workflow replaced (deploy --replace)");
	else
		forget_kept(d, w->m->name, 0);
	w->next = d->workflows;
	d->workflows = w;
	dlog("info", "what=deploy workflow=%s steps=%zu file=%s replaced=%d", w->m->name, w->m->nfunctions, op->file,
	     !!old);
	mqtt_sync(d->mqtt, w->m->name);
	scheduler_check_now(d);
	op_end(op, old ? 200 : 201, NULL);
}

static void deploy_written(redisReply *r, void *arg)
{
	struct op *op = arg;
	if (!written_ok(r))
		note_failure(op, r);
	if (--op->calls == 0)
		deploy_commit(op);
}

/* A function's lifetime_s is bounded by the node's unit_lifetime_s. */
static int lifetime_check(const struct daemon *d, const struct uf_manifest *m, const char *file, char *err,
                          size_t errlen)
{
	for (size_t i = 0; i < m->nfunctions; i++) {
		const struct uf_function *f = &m->functions[i];
		if (f->scale.lifetime_s <= d->cfg.unit_lifetime_s)
			continue;
		snprintf(err, errlen,
		         "%s:%u: functions.%s.scale.lifetime_s: %u s is more than the node's unit_lifetime_s (%u s): "
		         "lower it, or raise unit_lifetime_s in unifaasd.conf",
		         file, f->line, f->name, f->scale.lifetime_s, d->cfg.unit_lifetime_s);
		return -1;
	}
	return 0;
}

int registry_deploy(struct daemon *d, const char *yaml, size_t len, const char *file, const char *dir, int replace,
                    registry_done_fn done, void *arg, char *err, size_t errlen, int *http_status)
{
	*http_status = 422;
	struct uf_manifest *m = uf_manifest_parse_node(yaml, len, file, dir, 1, &d->cfg.limits, err, errlen);
	if (!m)
		return -1;
	struct workflow *old = registry_find(d, m->name), *w = NULL;
	struct op *op = NULL;
	if (name_free(m->name, err, errlen, http_status) < 0)
		goto fail;
	if (old && !replace) {
		*http_status = 409;
		snprintf(err, errlen, "workflow '%s' is already deployed (deploy with --replace to update it)",
		         m->name);
		goto fail;
	}
	if (secrets_check(d, m, file, err, errlen) < 0) /* 422, as the manifest's own problems */
		goto fail;
	if (slots_check_deploy(d, m, err, errlen) < 0 || lifetime_check(d, m, file, err, errlen) < 0)
		goto fail;
	char dirpath[4300];
	snprintf(dirpath, sizeof(dirpath), "%s/images/%s/", d->cfg.state_dir, m->name);
	*http_status = 500;
	if (mkdirs(dirpath) < 0) {
		snprintf(err, errlen, "%s: %s", dirpath, strerror(errno));
		goto fail;
	}
	/* copy every image first: a failure here changes nothing deployed */
	for (size_t i = 0; i < m->nfunctions; i++) {
		char to[4300];
		image_path(d, m->name, m->functions[i].name, to, sizeof(to));
		char staged[4400];
		snprintf(staged, sizeof(staged), "%s.new", to);
		int bad = 0;
		if (stage_image(&m->functions[i], staged, &bad, err, errlen) < 0) {
			*http_status = bad ? 422 : 500;
			goto fail;
		}
	}
	/* everything that can fail, before the old workflow is touched */
	if (!(w = make_workflow(d, m, err, errlen)))
		goto fail;
	if (!(op = calloc(1, sizeof(*op)))) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	m = NULL;
	struct workflow *prev = old ? old : ending(d, w->m->name);
	if (prev) { /* the ACL user is shared: units still ending must keep authenticating */
		snprintf(w->acl_pass, sizeof(w->acl_pass), "%s", prev->acl_pass);
	} else if (uf_random_hex(w->acl_pass, sizeof(w->acl_pass), 32) < 0) {
		snprintf(err, errlen,
		         "cannot make a password for the workflow's Redis user: getrandom: %s (the kernel gives no "
		         "randomness to unifaasd; nothing was deployed)",
		         strerror(errno));
		goto fail;
	}
	*op = (struct op){.d = d, .w = w, .done = done, .arg = arg};
	snprintf(op->name, sizeof(op->name), "%s", w->m->name);
	snprintf(op->file, sizeof(op->file), "%s", file);
	/* sent together; the last reply commits (deploy_commit) */
	int sent = 0;
	int ok = send_setup(d, w, deploy_written, op, &sent) == 0 &&
	         store_send(d->store, deploy_written, op,
	                    "HSET uf:state:wf:%s yaml %b file %s dir %s state %s reason %s acl_pass %s", w->m->name,
	                    yaml, len, file, dir, "running", "", w->acl_pass) == 0 &&
	         ++sent && store_send(d->store, deploy_written, op, "SADD uf:state:workflows %s", w->m->name) == 0 &&
	         ++sent;
	if (!sent) {
		*http_status = 503;
		snprintf(err, errlen,
		         "redis: could not store workflow '%s' (redis is unreachable; is redis-server up?)",
		         w->m->name);
		goto fail;
	}
	if (!ok) /* the replies of what was sent still come: it fails then */
		note_failure(op, NULL);
	op->calls = sent;
	op_hold(op);
	return 0;
fail:
	free_workflow(w);
	uf_manifest_free(m);
	free(op);
	return -1;
}

/* Deletes the files of a directory, then the directory (images/<wf>/ and
 * logs/<wf>/ hold files only). */
static void remove_dir(const char *path)
{
	DIR *dir = opendir(path);
	struct dirent *e;
	char file[4600];
	if (!dir)
		return;
	while ((e = readdir(dir)))
		if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) {
			snprintf(file, sizeof(file), "%s/%s", path, e->d_name);
			if (unlink(file) < 0)
				dlog("warn", "what=purge file=%s cause=\"%s\"", file, strerror(errno));
		}
	closedir(dir);
	if (rmdir(path) < 0)
		dlog("warn", "what=purge dir=%s cause=\"%s\"", path, strerror(errno));
}

/* Sent, not waited for: an error reply is logged. */
static void cmd(struct daemon *d, const char *fmt, const char *a1, const char *a2)
{
	store_send(d->store, NULL, NULL, fmt, a1, a2);
}

/* The workflow is deployed again (purge 0) or purged (1): no longer kept. */
static void forget_kept(struct daemon *d, const char *name, int purge)
{
	cmd(d, "SREM uf:state:kept %s", name, NULL);
	if (purge)
		cmd(d, "DEL uf:state:queues:%s", name, NULL);
}

/* Undeployed without purge: its data stays readable (inspect.c). */
static void keep(struct daemon *d, const struct workflow *w)
{
	for (size_t i = 0; i < w->m->nfunctions; i++) {
		const struct uf_function *f = &w->m->functions[i];
		cmd(d, "SADD uf:state:queues:%s %s", w->m->name, f->listen);
		for (size_t k = 0; k < f->npush; k++)
			cmd(d, "SADD uf:state:queues:%s %s", w->m->name, f->push[k]);
	}
	cmd(d, "SADD uf:state:kept %s", w->m->name, NULL);
}

static void purge_files(struct daemon *d, const char *name)
{
	char path[4300];
	snprintf(path, sizeof(path), "%s/images/%s", d->cfg.state_dir, name);
	remove_dir(path);
	snprintf(path, sizeof(path), "%s/logs/%s", d->cfg.state_dir, name);
	remove_dir(path);
}

/* ---- undeploy: its writes and the purge, a chain of replies ---- */

static const char *const PURGED[] = {"uf:q:", "uf:kv:", "uf:dlq:", "uf:stat:", UF_DELAY_KEY, UF_ENDS_KEY};
#define NPURGED (sizeof(PURGED) / sizeof(*PURGED))

static void purge_scan(struct op *op);

static void undeploy_end(redisReply *r, void *arg)
{
	struct op *op = arg;
	if (!r)
		note_failure(op, NULL);
	if (op->failed && op->purge) {
		char err[400];
		snprintf(err, sizeof(err), "redis: purge of workflow '%s' incomplete (%s); run it again", op->name,
		         op->why);
		op_end(op, 503, err);
		return;
	}
	dlog("info", "what=undeploy workflow=%s purge=%d", op->name, op->purge);
	op_end(op, 200, NULL); /* undeployed here even if Redis missed its state (restored: no units start) */
}

/* The unit numbers of a purged workflow: uf:state:seq's fields <wf>.<step>
 * (unit_start).  Numbers are never reused while a unit or a consumer of
 * that name may exist, so a field is kept while any workflow deployed or
 * still ending has a step of that field (ARGV[2..]), and when it may be a
 * kept workflow's (a field "a.b.c" of workflow "a" may be step "c" of a
 * kept "a.b").  KEYS: uf:state:seq, uf:state:kept; ARGV[1]: the workflow. */
static const char FORGET_NUMBERS_LUA[] =
    "local pre, keep = ARGV[1] .. '.', {}\n"
    "for i = 2, #ARGV do keep[ARGV[i]] = true end\n"
    "local kept = redis.call('SMEMBERS', KEYS[2])\n"
    "for _, f in ipairs(redis.call('HKEYS', KEYS[1])) do\n"
    "  local gone = f:sub(1, #pre) == pre and not keep[f]\n"
    "  for _, k in ipairs(kept) do\n"
    "    if gone and #k > #ARGV[1] and f:sub(1, #k + 1) == k .. '.' then gone = false end\n"
    "  end\n"
    "  if gone then redis.call('HDEL', KEYS[1], f) end\n"
    "end\n";

/* Sent, not waited for (a field left behind costs a few bytes). */
static void forget_numbers(struct daemon *d, const char *name)
{
	size_t n = 0, cap = 6;
	struct workflow *lists[] = {d->workflows, d->retired};
	for (int l = 0; l < 2; l++)
		for (struct workflow *w = lists[l]; w; w = w->next)
			cap += w->m->nfunctions;
	const char **argv = calloc(cap, sizeof(*argv));
	char(*fields)[2 * UF_NAME_BUF] = calloc(cap, sizeof(*fields));
	if (!argv || !fields)
		goto out;
	argv[n++] = "EVAL";
	argv[n++] = FORGET_NUMBERS_LUA;
	argv[n++] = "2";
	argv[n++] = "uf:state:seq";
	argv[n++] = "uf:state:kept";
	argv[n++] = name;
	for (int l = 0; l < 2; l++)
		for (struct workflow *w = lists[l]; w; w = w->next)
			for (size_t i = 0; i < w->m->nfunctions; i++) {
				snprintf(fields[n], sizeof(fields[n]), "%s.%s", w->m->name, w->m->functions[i].name);
				argv[n] = fields[n];
				n++;
			}
	store_sendv(d->store, NULL, NULL, (int)n, argv, NULL);
out:
	free(argv);
	free(fields);
}

/* Every prefix scanned and unlinked: the files, and the kept marks. */
static void purge_done(struct op *op)
{
	purge_files(op->d, op->name);
	forget_kept(op->d, op->name, 1);
	forget_numbers(op->d, op->name);
	if (store_send(op->d->store, undeploy_end, op, "PING") < 0) /* after all of the above */
		undeploy_end(NULL, op);
}

static void purge_read(redisReply *r, void *arg)
{
	struct op *op = arg;
	if (!r || r->type != REDIS_REPLY_ARRAY || r->elements != 2 || r->element[1]->type != REDIS_REPLY_ARRAY) {
		note_failure(op, r && r->type == REDIS_REPLY_ERROR ? r : NULL);
		undeploy_end(r ? r : NULL, op);
		return;
	}
	const redisReply *keys = r->element[1];
	if (keys->elements) {
		const char **argv = calloc(keys->elements + 1, sizeof(*argv));
		size_t *lens = calloc(keys->elements + 1, sizeof(*lens));
		if (argv && lens) {
			argv[0] = "UNLINK";
			lens[0] = 6;
			for (size_t k = 0; k < keys->elements; k++) {
				argv[k + 1] = keys->element[k]->str;
				lens[k + 1] = keys->element[k]->len;
			}
			store_sendv(op->d->store, NULL, NULL, (int)keys->elements + 1, argv, lens);
		} else {
			note_failure(op, NULL);
		}
		free(argv);
		free(lens);
	}
	snprintf(op->cursor, sizeof(op->cursor), "%s", r->element[0]->str);
	if (!strcmp(op->cursor, "0"))
		op->prefix++;
	if (op->prefix < (int)NPURGED)
		purge_scan(op);
	else
		purge_done(op);
}

static void purge_scan(struct op *op)
{
	if (store_send(op->d->store, purge_read, op, "SCAN %s MATCH %s%s:* COUNT 1000", op->cursor, PURGED[op->prefix],
	               op->name) < 0)
		purge_read(NULL, op);
}

static void purge_start(struct op *op)
{
	char user[96];
	/* its units still ending (of this undeploy or of an earlier one that
	 * kept its data) write nothing of it any more (inspect_note_end), and
	 * the last of them forgets its numbers (registry_unit_gone); its user
	 * goes at once, so they cannot write what the purge deletes */
	for (struct workflow *w = op->d->retired; w; w = w->next)
		if (!strcmp(w->m->name, op->name))
			w->purged = 1;
	release_cancel(op->name);
	acl_user_name(user, sizeof(user), op->name);
	cmd(op->d, "ACL DELUSER %s", user, NULL);
	op->prefix = 0;
	snprintf(op->cursor, sizeof(op->cursor), "0");
	purge_scan(op);
}

/* Not deployed: was it undeployed earlier with its data kept? */
static void kept_read(redisReply *r, void *arg)
{
	struct op *op = arg;
	int kept = r && r->type == REDIS_REPLY_INTEGER && r->integer == 1;
	char err[300];
	if (!r) {
		op_end(op, 503, "redis did not answer; retry later");
	} else if (kept && op->purge) { /* what an earlier undeploy kept */
		purge_start(op);
	} else {
		snprintf(err, sizeof(err), "workflow '%s' is not deployed%s", op->name,
		         kept ? " (undeployed earlier, its data kept: --purge deletes it)" : "");
		op_end(op, 404, err);
	}
}

int registry_undeploy(struct daemon *d, const char *name, int purge, registry_done_fn done, void *arg, char *err,
                      size_t errlen, int *http_status)
{
	struct workflow *w = registry_find(d, name);
	if (name_free(name, err, errlen, http_status) < 0)
		return -1;
	struct op *op = calloc(1, sizeof(*op));
	if (!op) {
		*http_status = 500;
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	*op = (struct op){.d = d, .undeploy = 1, .purge = purge, .done = done, .arg = arg};
	snprintf(op->name, sizeof(op->name), "%s", name);
	op_hold(op); /* until op_end */
	if (!w) {
		if (store_send(d->store, kept_read, op, "SISMEMBER uf:state:kept %s", name) == 0)
			return 0;
		op_release(op);
		free(op);
		*http_status = 503;
		snprintf(err, errlen, "redis is unreachable; retry later");
		return -1;
	}
	if (!purge)
		keep(d, w); /* before retire: its last unit's release reads its queues */
	w->purged = purge;
	/* kept: its units keep the user until the last has ended (w freed
	 * then, possibly here), and its delayed events follow (acl_release) */
	retire(d, w, "workflow undeployed");
	metrics_forget("workflow", name);
	mqtt_sync(d->mqtt, name);                           /* its MQTT session ends */
	cmd(d, "UNLINK " UF_OUTBOX_MQTT "%s", name, NULL);  /* publishes not sent yet: gone with it */
	cmd(d, "DEL " UF_QUOTA_KEY "%s", name, NULL);       /* quota.c: measured again if deployed again */
	cmd(d, "DEL " UF_QUOTA_SINCE_KEY "%s", name, NULL); /* its give-up clock starts over */
	cmd(d, "SREM uf:state:workflows %s", name, NULL);
	if (purge)
		cmd(d, "DEL uf:state:wf:%s", name, NULL), purge_start(op);
	else if (store_send(d->store, undeploy_end, op, "DEL uf:state:wf:%s", name) < 0)
		undeploy_end(NULL, op);
	return 0;
}

static const char *field(const redisReply *h, const char *name)
{
	redisReply *v = store_field(h, name);
	return v && v->type == REDIS_REPLY_STRING ? v->str : NULL;
}

/* A workflow from its state hash h (HGETALL uf:state:wf:<name>), read
 * whole before: state that cannot make a workflow is logged and skipped. */
/* A restored workflow's limits are not refused for being more than the
 * node's (it may have lowered them since the deploy): its units get the
 * node's (uf_limits_apply), and the log says so once per restore. */
static void warn_capped_limits(struct daemon *d, const struct uf_manifest *m)
{
	for (size_t i = 0; i < m->nfunctions; i++) {
		struct uf_limits lim;
		uint32_t capped;
		uf_function_limits(&m->functions[i], &d->cfg.limits, &lim, &capped);
		for (int k = 0; k < UF_LIM_EVENT_COUNT; k++)
			if (capped & (1u << k))
				dlog("warn",
				     "what=restore workflow=%s step=%s limit=limits.%s cause=\"the manifest asks more "
				     "than "
				     "this node allows: its units get the node's %llu\"",
				     m->name, m->functions[i].name, uf_limit_info[k].name,
				     (unsigned long long)d->cfg.limits.v[k]);
	}
}

static void restore_one(struct daemon *d, const char *name, const redisReply *h)
{
	char err[4096];
	const char *yaml = h->type == REDIS_REPLY_ARRAY ? field(h, "yaml") : NULL;
	const char *file = field(h, "file"), *dir = field(h, "dir"), *pass = field(h, "acl_pass");
	struct uf_manifest *m = NULL;
	struct workflow *w = NULL;
	if (!yaml || !file || !dir || !pass) {
		dlog("error", "what=restore workflow=%s cause=\"state incomplete in redis\"", name);
		return;
	}
	if (!(m = uf_manifest_parse(yaml, store_field(h, "yaml")->len, file, dir, 0, err, sizeof(err)))) {
		dlog("error", "what=restore workflow=%s cause=\"%s\"", name, err);
		return;
	}
	if (!(w = make_workflow(d, m, err, sizeof(err)))) {
		dlog("error", "what=restore workflow=%s cause=\"%s\"", name, err);
		uf_manifest_free(m);
		return;
	}
	snprintf(w->acl_pass, sizeof(w->acl_pass), "%s", pass);
	const char *st = field(h, "state"), *reason = field(h, "reason");
	w->state = st && !strcmp(st, "stopped") ? WF_STOPPED : WF_RUNNING;
	snprintf(w->reason, sizeof(w->reason), "%s", reason ? reason : "");
	int sent = 0; /* sent now, written once the loop runs, before any unit can start */
	send_setup(d, w, restore_written, NULL, &sent);
	w->next = d->workflows;
	d->workflows = w;
	dlog("info", "what=restore workflow=%s steps=%zu state=%s", name, m->nfunctions, st ? st : "running");
	warn_capped_limits(d, m);
}

/* Every read first, then the workflows made: a Redis that stops answering
 * midway leaves nothing applied (-1, err says why) and the caller reads
 * again once Redis answers. */
int registry_restore(struct daemon *d, char *err, size_t errlen)
{
	redisReply *names = store_cmd(d->store, "SMEMBERS uf:state:workflows"), **h = NULL;
	size_t n = 0;
	int rc = -1;
	if (!names || names->type != REDIS_REPLY_ARRAY) {
		snprintf(err, errlen, "SMEMBERS uf:state:workflows: %s",
		         names && names->type == REDIS_REPLY_ERROR ? names->str : "no answer from redis");
		goto out;
	}
	if (names->elements && !(h = calloc(names->elements, sizeof(*h)))) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	for (; n < names->elements; n++) {
		const char *name = names->element[n]->str;
		h[n] = store_cmd(d->store, "HGETALL uf:state:wf:%s", name);
		if (!h[n] || h[n]->type == REDIS_REPLY_ERROR) {
			snprintf(err, errlen, "HGETALL uf:state:wf:%s: %s", name,
			         h[n] ? h[n]->str : "no answer from redis");
			goto out;
		}
	}
	for (size_t i = 0; i < n; i++)
		restore_one(d, names->element[i]->str, h[i]);
	rc = 0;
out:
	for (size_t i = 0; h && i < names->elements; i++)
		if (h[i])
			freeReplyObject(h[i]);
	free(h);
	if (names)
		freeReplyObject(names);
	return rc;
}

void registry_free_all(struct daemon *d)
{
	struct workflow *lists[] = {d->workflows, d->retired};
	for (int i = 0; i < 2; i++)
		while (lists[i]) {
			struct workflow *w = lists[i];
			lists[i] = w->next;
			free_workflow(w);
		}
	d->workflows = d->retired = NULL;
	while (releasing) /* after store_close: no reply comes any more (the next start deletes them) */
		release_end(releasing);
}
