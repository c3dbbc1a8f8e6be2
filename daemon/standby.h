/*
 * standby.h - the pool of pre-started tenders (standby.c).
 */
#ifndef UF_STANDBY_H
#define UF_STANDBY_H

#include <stdint.h>

struct daemon;
struct standby_pool;

/* Keeps `want` standbys running (0: none; the pool then does nothing). */
struct standby_pool *standby_open(struct daemon *d, uint32_t want);
/* Takes one: its pid and our ends of its pipes; -1 when none is ready. */
int standby_take(struct standby_pool *p, int *pid, int *in, int *out, int *err);
/* Sends the unit's argv (argv[0] skipped) and environment to a taken
 * standby; the caller closes `in` afterwards.  0 or -errno. */
int standby_launch(int in, char *const argv[], char *const envp[]);
/* On SIGCHLD: 1 if pid was a standby (forgotten now), else 0. */
int standby_reaped(struct standby_pool *p, int pid, int status);
uint32_t standby_count(const struct standby_pool *p);
/* Shutdown: lets every standby go (they exit 0); then standby_close. */
void standby_release_all(struct standby_pool *p);
void standby_close(struct standby_pool *p);

#endif
