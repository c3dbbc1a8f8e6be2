/*
 * build_run.c - the local commands: `build` and `run`.
 *
 * `build` turns C sources into a unikernel image (musl-gcc, libuf, the image
 * linker script; with --arch aarch64 on x86-64, Debian's
 * aarch64-linux-musl-gcc and the aarch64 runtime in LIBDIR/aarch64) in two stages, each named when it fails: every
 * source is compiled into an object of a temporary directory, then the objects are linked into a temporary file beside
 * the image, renamed over it only once complete (a failed build never removes the previous image).  cmd_run execs the
 * tender ($UNIFAAS_TENDER, else BIN/uf-hvt), which parses the run options itself; the front uses it only when
 * UNIFAAS_TENDER is set, and otherwise runs the tender linked into it (front.c).
 *
 * Resources are found relative to this executable: BIN/../lib/unifaas holds
 * libuf.a, uf.ld and include/ (the same layout in the build tree and after
 * `make install`), BIN/uf-hvt is the tender.  UNIFAAS_LIBDIR and
 * UNIFAAS_TENDER override them.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"

#define GUEST_CC "musl-gcc"
#if defined(__x86_64__)
#define HOST_ARCH "x86_64"
#else
#define HOST_ARCH "aarch64"
#endif
#define MAX_SRCS  256
#define MAX_OPTS  400
#define NO_HANDLE "undefined reference to `uf_handle'"

/* What every image is compiled, then linked, with. */
static const char *const compile_flags[] = {"-std=gnu11", "-O2", "-fno-pie", "-ffunction-sections", "-fdata-sections",
                                            "-fno-asynchronous-unwind-tables",
                                            /* a frame larger than the 4 KiB guard page below the stack must hit
                                             * it, not jump over it into the heap */
                                            "-fstack-clash-protection"};
static const char *const link_flags[] = {"-static",
                                         "-no-pie",
                                         "-nostartfiles",
                                         "-Wl,--gc-sections",
                                         "-Wl,-z,max-page-size=4096",
                                         "-Wl,--build-id=none",
                                         "-Wl,-z,noexecstack"};
#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

struct build {
	const char *out;
	const char *arch; /* --arch: x86_64 or aarch64 (default: this machine's) */
	const char *cc;   /* the musl compiler for arch */
	const char *srcs[MAX_SRCS];
	int nsrc;
	char *opts[MAX_OPTS]; /* the user's compiler options, in order */
	int nopt;
	char inc[PATH_MAX + 64], ld[PATH_MAX + 64], lib[PATH_MAX + 64];
	char tmpdir[PATH_MAX]; /* objects and the linker's messages */
	char tmpout[PATH_MAX]; /* the image being linked, beside out */
	char objs[MAX_SRCS][PATH_MAX + 96];
	char defout[PATH_MAX];
};

static int file_exists(const char *p)
{
	struct stat st;
	return stat(p, &st) == 0;
}

static int has_suffix(const char *s, const char *suf)
{
	size_t n = strlen(s), m = strlen(suf);
	return n >= m && strcmp(s + n - m, suf) == 0;
}

/* What the compiler takes as a source here; anything else it would take
 * for linker input and fail on with a message about a missing object. */
static int is_source(const char *s)
{
	return has_suffix(s, ".c") || has_suffix(s, ".S") || has_suffix(s, ".s") || has_suffix(s, ".o") ||
	       has_suffix(s, ".a");
}

/* The source that is the same file as out, if any: the image, renamed over
 * it, would replace the user's source. */
static const char *source_at(const struct build *b, const char *out)
{
	struct stat o, st;
	if (stat(out, &o) != 0)
		return NULL;
	for (int i = 0; i < b->nsrc; i++)
		if (stat(b->srcs[i], &st) == 0 && st.st_dev == o.st_dev && st.st_ino == o.st_ino)
			return b->srcs[i];
	return NULL;
}

/* Options that mean something only to the linker stay out of the compile. */
static int link_only(const char *opt)
{
	return strncmp(opt, "-l", 2) == 0 || strncmp(opt, "-L", 2) == 0 || strncmp(opt, "-Wl,", 4) == 0 ||
	       strcmp(opt, "-s") == 0;
}

/* --arch's value, spelt as the Makefile's ARCH, or NULL if unknown */
static const char *arch_name(const char *a)
{
	if (!strcmp(a, "x86_64") || !strcmp(a, "x86-64") || !strcmp(a, "amd64"))
		return "x86_64";
	if (!strcmp(a, "aarch64") || !strcmp(a, "arm64"))
		return "aarch64";
	return NULL;
}

/* Whether prog is an executable in $PATH. */
static int in_path(const char *prog)
{
	const char *path = getenv("PATH");
	char dir[PATH_MAX + 128];
	while (path && *path) {
		size_t n = strcspn(path, ":");
		snprintf(dir, sizeof(dir), "%.*s/%s", (int)(n ? n : 1), n ? path : ".", prog);
		if (access(dir, X_OK) == 0)
			return 1;
		path += n + (path[n] == ':');
	}
	return 0;
}

/* The compiler and the runtime for b->arch: this machine's, or a cross
 * build's (Debian's <arch>-linux-musl-gcc, the runtime in LIBDIR/<arch>). */
static int find_toolchain(struct build *b)
{
	const char *ldir = cli_libdir();
	char rdir[PATH_MAX + 64];
	int cross = strcmp(b->arch, HOST_ARCH) != 0;
	b->cc = GUEST_CC;
	if (cross) {
		b->cc = strcmp(b->arch, "aarch64") == 0 ? "aarch64-linux-musl-gcc" : "x86_64-linux-musl-gcc";
		if (!in_path(b->cc)) {
			fprintf(stderr,
			        "unifaas: build: --arch %s: the cross compiler %s is not installed: install it with "
			        "scripts/install-deps.sh --%s (Debian's gcc-%s-linux-gnu and musl-dev:%s)\n",
			        b->arch, b->cc, strcmp(b->arch, "aarch64") == 0 ? "arm64" : "amd64", b->arch,
			        strcmp(b->arch, "aarch64") == 0 ? "arm64" : "amd64");
			return -1;
		}
	}
	snprintf(rdir, sizeof(rdir), "%s%s%s", ldir, cross && !getenv("UNIFAAS_LIBDIR") ? "/" : "",
	         cross && !getenv("UNIFAAS_LIBDIR") ? b->arch : "");
	snprintf(b->lib, sizeof(b->lib), "%.*s/libuf.a", PATH_MAX, rdir);
	if (!file_exists(b->lib)) {
		if (cross)
			fprintf(stderr,
			        "unifaas: build: --arch %s: the %s runtime is not at %s: build it with 'make "
			        "runtime-%s' (or set UNIFAAS_LIBDIR to its directory)\n",
			        b->arch, b->arch, b->lib, b->arch);
		else
			fprintf(stderr, "unifaas: build: runtime not found at %s (run 'make', or set UNIFAAS_LIBDIR)\n",
			        b->lib);
		return -1;
	}
	snprintf(b->inc, sizeof(b->inc), "-I%.*s/include", PATH_MAX, rdir);
	snprintf(b->ld, sizeof(b->ld), "-Wl,-T,%.*s/uf.ld", PATH_MAX, rdir);
	return 0;
}

/* Command line: UF_EX_OK, or an exit code after a message; *help when
 * --help was printed. */
static int parse(struct build *b, int argc, char **argv, int *help)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
			cli_help("build", stdout);
			*help = 1;
			return UF_EX_OK;
		}
		if (strcmp(argv[i], "--arch") == 0 || strncmp(argv[i], "--arch=", 7) == 0) {
			const char *a = argv[i][6] == '=' ? argv[i] + 7 : (++i < argc ? argv[i] : NULL);
			if (!a) {
				fprintf(stderr, "unifaas: build: --arch needs an architecture (x86_64 or aarch64)\n");
				return UF_EX_USAGE;
			}
			if (!(b->arch = arch_name(a))) {
				fprintf(stderr,
				        "unifaas: build: --arch %s: not an architecture unifaas builds for (x86_64 or "
				        "aarch64)\n",
				        a);
				return UF_EX_USAGE;
			}
		} else if (strcmp(argv[i], "-o") == 0) {
			if (++i == argc) {
				fprintf(stderr, "unifaas: build: -o needs a file name\n");
				return UF_EX_USAGE;
			}
			b->out = argv[i];
		} else if (argv[i][0] == '-') {
			if (b->nopt == MAX_OPTS) {
				fprintf(stderr, "unifaas: build: too many options\n");
				return UF_EX_USAGE;
			}
			b->opts[b->nopt++] = argv[i];
		} else {
			if (b->nsrc == MAX_SRCS) {
				fprintf(stderr, "unifaas: build: more than %d sources\n", MAX_SRCS);
				return UF_EX_USAGE;
			}
			if (!file_exists(argv[i])) {
				fprintf(stderr, "unifaas: build: %s: %s\n", argv[i], strerror(errno));
				return UF_EX_USAGE;
			}
			if (!is_source(argv[i])) {
				fprintf(
				    stderr,
				    "unifaas: build: %s: not a source unifaas build takes (C .c, assembler .S or .s, "
				    "objects .o, archives .a)\n",
				    argv[i]);
				return UF_EX_USAGE;
			}
			b->srcs[b->nsrc++] = argv[i];
		}
	}
	if (b->nsrc == 0) {
		fprintf(stderr, "unifaas: build: no source files given\n");
		cli_help("build", stderr);
		return UF_EX_USAGE;
	}
	if (!b->out) {
		snprintf(b->defout, sizeof(b->defout), "%s", b->srcs[0]);
		char *dot = strrchr(b->defout, '.');
		if (dot && !strchr(dot, '/'))
			*dot = '\0';
		strncat(b->defout, ".uf", sizeof(b->defout) - strlen(b->defout) - 1);
		b->out = b->defout;
	}
	const char *src = source_at(b, b->out);
	if (src) {
		fprintf(stderr,
		        "unifaas: build: -o %s is the source %s: the image would replace it; name the image NAME.uf\n",
		        b->out, src);
		return UF_EX_USAGE;
	}
	return UF_EX_OK;
}

/* Runs args[0] with stderr on err_fd (-1: ours); its exit status, or -1. */
static int spawn(char **args, int err_fd)
{
	pid_t pid = fork();
	if (pid < 0) {
		fprintf(stderr, "unifaas: build: fork: %s\n", strerror(errno));
		return -1;
	}
	if (pid == 0) {
		if (err_fd >= 0)
			dup2(err_fd, 2);
		execvp(args[0], args);
		fprintf(stderr, "unifaas: build: cannot run %s: %s (install musl-tools: scripts/install-deps.sh)\n",
		        args[0], strerror(errno));
		_exit(127);
	}
	int st;
	if (waitpid(pid, &st, 0) < 0)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Stage 1: each C (or assembler) source into an object of tmpdir. */
static int compile(struct build *b, int i)
{
	const char *src = b->srcs[i];
	if (has_suffix(src, ".o") || has_suffix(src, ".a")) {
		snprintf(b->objs[i], sizeof(b->objs[i]), "%s", src);
		return 0;
	}
	char *args[MAX_OPTS + 32];
	int na = 0;
	args[na++] = (char *)b->cc;
	for (size_t k = 0; k < NELEM(compile_flags); k++)
		args[na++] = (char *)compile_flags[k];
	/* aarch64 GCC assumes a 64 KiB guard and probes that far apart: ours is 4 KiB (2^12) */
	if (!strcmp(b->arch, "aarch64"))
		args[na++] = "--param=stack-clash-protection-guard-size=12";
	args[na++] = b->inc;
	for (int k = 0; k < b->nopt; k++)
		if (!link_only(b->opts[k]))
			args[na++] = b->opts[k];
	const char *base = strrchr(src, '/') ? strrchr(src, '/') + 1 : src;
	snprintf(b->objs[i], sizeof(b->objs[i]), "%s/%d-%.64s.o", b->tmpdir, i, base); /* named in ld's messages */
	args[na++] = "-c";
	args[na++] = (char *)src;
	args[na++] = "-o";
	args[na++] = b->objs[i];
	args[na] = NULL;
	if (spawn(args, -1) != 0) {
		fprintf(stderr, "unifaas: build: compiling %s failed\n", src);
		return -1;
	}
	return 0;
}

/* Whether the linker's messages (in fd) say that no uf_handle was found:
 * libuf's main() calls it, so the function defines neither. */
static int no_handler(int fd)
{
	char buf[8192];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	return strstr(buf, NO_HANDLE) != NULL;
}

/* Copies the linker's messages to our stderr. */
static void show(int fd)
{
	char buf[4096];
	ssize_t n;
	off_t off = 0;
	while ((n = pread(fd, buf, sizeof(buf), off)) > 0) {
		fwrite(buf, 1, (size_t)n, stderr);
		off += n;
	}
}

/* Stage 2: the objects, libuf, libm and libc into b->tmpout. */
static int link_image(struct build *b)
{
	char *args[MAX_OPTS + MAX_SRCS + 32];
	int na = 0;
	args[na++] = (char *)b->cc;
	for (size_t k = 0; k < NELEM(link_flags); k++)
		args[na++] = (char *)link_flags[k];
	args[na++] = b->ld;
	for (int k = 0; k < b->nopt; k++)
		args[na++] = b->opts[k];
	for (int i = 0; i < b->nsrc; i++)
		args[na++] = b->objs[i];
	char *tail[] = {"-Wl,--start-group", b->lib, "-lm", "-lc", "-Wl,--end-group", "-o", b->tmpout};
	for (size_t k = 0; k < NELEM(tail); k++)
		args[na++] = tail[k];
	args[na] = NULL;

	char log[PATH_MAX + 16];
	snprintf(log, sizeof(log), "%s/link.log", b->tmpdir);
	int fd = open(log, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		fprintf(stderr, "unifaas: build: %s: %s\n", log, strerror(errno));
		return -1;
	}
	int r = spawn(args, fd);
	if (r != 0 && no_handler(fd)) {
		fprintf(stderr,
		        "unifaas: build: %s: no uf_handle and no main: define int uf_handle(uf_ctx *ctx, "
		        "const uf_event *ev), called once per event, or your own int main(void) "
		        "(docs/writing-functions.md)\n",
		        b->srcs[0]);
	} else {
		show(fd);
		if (r != 0)
			fprintf(stderr, "unifaas: build: linking %s failed\n", b->out);
	}
	close(fd);
	unlink(log);
	return r == 0 ? 0 : -1;
}

/* The image is linked into a temporary file beside it, made executable
 * and renamed over it only once complete: a failed build leaves the
 * previous image as it was. */
static int make_tmpout(struct build *b)
{
	const char *slash = strrchr(b->out, '/');
	int dirlen = slash ? (int)(slash - b->out + 1) : 0; /* with its '/' */
	int n = snprintf(b->tmpout, sizeof(b->tmpout), "%.*s.%s.XXXXXX", dirlen, b->out, b->out + dirlen);
	int fd = n < (int)sizeof(b->tmpout) ? mkstemp(b->tmpout) : (errno = ENAMETOOLONG, -1);
	if (fd < 0) {
		fprintf(stderr, "unifaas: build: cannot write %s: %s\n", b->out, strerror(errno));
		b->tmpout[0] = '\0';
		return -1;
	}
	close(fd);
	return 0;
}

static int install_image(struct build *b)
{
	mode_t mask = umask(0);
	umask(mask);
	if (chmod(b->tmpout, 0777 & ~mask) < 0 || rename(b->tmpout, b->out) < 0) {
		fprintf(stderr, "unifaas: build: cannot write %s: %s\n", b->out, strerror(errno));
		return -1;
	}
	b->tmpout[0] = '\0';
	return 0;
}

static void cleanup(struct build *b)
{
	if (b->tmpout[0])
		unlink(b->tmpout);
	for (int i = 0; i < b->nsrc; i++)
		if (strncmp(b->objs[i], b->tmpdir, strlen(b->tmpdir)) == 0)
			unlink(b->objs[i]);
	rmdir(b->tmpdir);
}

int cmd_build(int argc, char **argv)
{
	static struct build b; /* ~1 MB of paths: not on the stack */
	int help = 0, code;

	memset(&b, 0, sizeof(b));
	b.arch = HOST_ARCH;
	if ((code = parse(&b, argc, argv, &help)) != UF_EX_OK || help)
		return code;
	if (find_toolchain(&b) < 0)
		return UF_EX_USAGE;

	const char *tmp = getenv("TMPDIR");
	snprintf(b.tmpdir, sizeof(b.tmpdir), "%s/unifaas-build.XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
	if (!mkdtemp(b.tmpdir)) {
		fprintf(stderr, "unifaas: build: cannot create a directory for objects (%s): %s\n", b.tmpdir,
		        strerror(errno));
		return UF_EX_ERROR;
	}
	code = UF_EX_ERROR;
	for (int i = 0; i < b.nsrc; i++)
		if (compile(&b, i) < 0)
			goto out;
	if (make_tmpout(&b) < 0 || link_image(&b) < 0 || install_image(&b) < 0)
		goto out;
	code = UF_EX_OK;
out:
	cleanup(&b);
	return code;
}

int cmd_run(int argc, char **argv)
{
	char tender[PATH_MAX + 16];
	cli_tender_path(tender, sizeof(tender));
	argv[0] = tender;
	(void)argc;
	execv(tender, argv);
	fprintf(stderr, "unifaas: run: cannot start the tender %s: %s\n", tender, strerror(errno));
	return 7;
}
