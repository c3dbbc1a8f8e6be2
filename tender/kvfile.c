/*
 * kvfile.c - replacing the --kv file atomically (backend_local.c's store).
 *
 * The store is saved when the unit ends, after the tender has sandboxed
 * itself: it may then write to descriptors it holds, but not open, rename
 * or unlink anything.  So, before the sandbox, kvf_open creates the new
 * version's file beside the old one (DIR/.NAME.XXXXXX, the old file's
 * mode) and forks a helper that holds the directory and waits on a socket.
 * At the end the tender writes the whole store into that temporary file
 * and sends 'S'; the helper fsyncs it, renames it over NAME, fsyncs the
 * directory and answers with 0 or an errno.  If the tender ends without
 * saving (never started, or killed), the helper sees EOF and unlinks the
 * temporary file.  Whenever a crash happens, NAME is the old store or the
 * new one, whole; never a truncated one.
 *
 * The helper does only that one rename of names fixed before the tender
 * runs any guest code, so a compromised tender cannot use it for anything
 * else.  The tender reaps it (wait4) before it returns.
 */
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backend.h"

/* In the helper: fsync the file, rename it over the store, fsync the dir. */
static int helper_save(int dirfd, int tmp_fd, const char *tmp_name, const char *name)
{
	if (fsync(tmp_fd) < 0 || renameat(dirfd, tmp_name, dirfd, name) < 0 || fsync(dirfd) < 0)
		return errno ? errno : EIO;
	return 0;
}

static void helper_main(int sock, int dirfd, int tmp_fd, const char *tmp_name, const char *name)
{
	for (int fd = 0; fd < 1024; fd++)
		if (fd != sock && fd != dirfd && fd != tmp_fd)
			close(fd);
	signal(SIGPIPE, SIG_IGN);
	char c;
	ssize_t n;
	while ((n = read(sock, &c, 1)) < 0 && errno == EINTR)
		;
	if (n == 1 && c == 'S') {
		int e = helper_save(dirfd, tmp_fd, tmp_name, name);
		if (e)
			unlinkat(dirfd, tmp_name, 0);
		unsigned char r = (unsigned char)(e > 255 ? EIO : e);
		(void)!write(sock, &r, 1);
	} else {
		unlinkat(dirfd, tmp_name, 0); /* the tender ended without saving */
	}
	_exit(0);
}

int kvf_open(struct kvf *f, const char *path, mode_t mode, char *err, size_t errlen)
{
	char dir[PATH_MAX], base[PATH_MAX];
	*f = (struct kvf){.tmp_fd = -1, .sock = -1, .helper = -1};
	if (snprintf(dir, sizeof(dir), "%s", path) >= (int)sizeof(dir) ||
	    snprintf(base, sizeof(base), "%s", path) >= (int)sizeof(base)) {
		snprintf(err, errlen, "kv file %s: path too long", path);
		return -1;
	}
	const char *name = basename(base);
	const char *d = dirname(dir); /* may be a static "." */
	int dirfd = open(d, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int sv[2] = {-1, -1};
	if (snprintf(f->tmp_name, sizeof(f->tmp_name), ".%s.XXXXXX", name) >= (int)sizeof(f->tmp_name)) {
		errno = ENAMETOOLONG;
		goto fail;
	}
	if (dirfd < 0)
		goto fail;
	/* mkstemp needs a path: build DIR/.NAME.XXXXXX, keep only the name */
	char tmp_path[2 * PATH_MAX] = "";
	snprintf(tmp_path, sizeof(tmp_path), "%s/%s", d, f->tmp_name);
	f->tmp_fd = mkostemp(tmp_path, O_CLOEXEC);
	if (f->tmp_fd < 0)
		goto fail;
	snprintf(f->tmp_name, sizeof(f->tmp_name), "%s", strrchr(tmp_path, '/') + 1);
	if (fchmod(f->tmp_fd, mode) < 0 || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		goto fail_unlink;
	f->helper = fork();
	if (f->helper < 0)
		goto fail_unlink;
	if (f->helper == 0)
		helper_main(sv[1], dirfd, f->tmp_fd, f->tmp_name, name);
	close(sv[1]);
	close(dirfd);
	f->sock = sv[0];
	return 0;

fail_unlink:;
	int e = errno; /* unlink must not change the reason */
	unlink(tmp_path);
	errno = e;
fail:
	snprintf(err, errlen, "kv file %s: cannot prepare its replacement in %s: %s", path, d, strerror(errno));
	if (f->tmp_fd >= 0)
		close(f->tmp_fd);
	if (sv[0] >= 0)
		close(sv[0]), close(sv[1]);
	if (dirfd >= 0)
		close(dirfd);
	*f = (struct kvf){.tmp_fd = -1, .sock = -1, .helper = -1};
	return -1;
}

/* Ends the helper (EOF: it removes the file unless it was renamed) and
 * reaps it. */
static void kvf_finish(struct kvf *f)
{
	if (f->tmp_fd >= 0)
		close(f->tmp_fd);
	if (f->sock >= 0)
		close(f->sock);
	if (f->helper > 0)
		while (waitpid(f->helper, NULL, 0) < 0 && errno == EINTR)
			;
	*f = (struct kvf){.tmp_fd = -1, .sock = -1, .helper = -1};
}

int kvf_commit(struct kvf *f, const char *buf, size_t len)
{
	const char *p = buf;
	size_t left = len;
	int e = 0;
	while (left > 0 && !e) {
		ssize_t n = write(f->tmp_fd, p, left);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			e = n < 0 ? errno : EIO;
		else
			p += n, left -= (size_t)n;
	}
	unsigned char r = 0;
	if (!e && write(f->sock, "S", 1) != 1)
		e = errno ? errno : EIO;
	if (!e && read(f->sock, &r, 1) != 1)
		e = EIO;
	else if (!e)
		e = r;
	kvf_finish(f);
	errno = e;
	return e ? -1 : 0;
}

void kvf_abandon(struct kvf *f)
{
	kvf_finish(f);
}
