/*
 * hvt_seccomp.c - the tender confines itself once setup is done.
 *
 * After the image is loaded and the vCPU configured, the tender needs only
 * to run the vCPU, serve hypercalls (read/write on descriptors it already
 * holds, clocks, randomness, sleep, memory for its own heap) and exit.
 * Everything else kills the process (SIGSYS), so a guest that found a bug
 * in hypercall handling still could not open files, exec or connect.
 * The allow-list is hvt_seccomp_rules.h, compiled to BPF at build time by
 * gen_seccomp.c; installing it here is two prctl calls.
 */
#include <errno.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>

#include "hvt.h"
#include "hvt_seccomp_bpf.h"

int hvt_seccomp_apply(struct hvt *h, char *err, size_t errlen)
{
	(void)h;
#if defined(__SANITIZE_ADDRESS__)
	struct sock_fprog prog = {.len = sizeof(hvt_seccomp_bpf_san) / sizeof(hvt_seccomp_bpf_san[0]),
	                          .filter = (struct sock_filter *)hvt_seccomp_bpf_san};
#else
	struct sock_fprog prog = {.len = sizeof(hvt_seccomp_bpf) / sizeof(hvt_seccomp_bpf[0]),
	                          .filter = (struct sock_filter *)hvt_seccomp_bpf};
#endif
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0) {
		snprintf(err, errlen, "cannot install the seccomp filter: %s", strerror(errno));
		return -1;
	}
	return 0;
}
