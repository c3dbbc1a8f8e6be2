/*
 * slots_fn.c - a function that takes a node's unit slots and memory and
 * gives nothing back (tests/integration/fairness.sh, issue 11).  Its own
 * main(), so libuf's event loop is not linked; env MODE picks what it does:
 *   sleep   never pops: sleeps for ever (no CPU used), holding its slot
 *   hog     touches HOG_MB MiB of its memory, then sleeps for ever, never
 *           popping (the host memory its unit really takes)
 *   pop     pops events and sleeps in the handler for ever (with the
 *           manifest's timeout_ms: 0 nothing limits the event's time)
 */
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unifaas.h>

static void sleep_for_ever(void)
{
	for (;;) {
		struct timespec ts = {1, 0};
		nanosleep(&ts, NULL);
	}
}

int main(void)
{
	const char *mode = uf_getenv("MODE");
	if (mode && !strcmp(mode, "hog")) {
		const char *mb = uf_getenv("HOG_MB");
		size_t n = (size_t)(mb ? atol(mb) : 1) << 20;
		volatile char *p = malloc(n);
		for (size_t i = 0; p && i < n; i += 4096)
			p[i] = 1;
	}
	if (mode && !strcmp(mode, "pop")) {
		uf_event ev;
		if (uf_pop(uf_context(), &ev, 60000) > 0)
			sleep_for_ever();
	}
	sleep_for_ever();
	return 0;
}
