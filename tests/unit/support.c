/*
 * support.c - see support.h.  Plain C, no cmocka: the fuzzer links it too.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "support.h"

static char **tmp_paths; /* every temporary file not yet released */
static int ntmp, tmp_cap;

static void tmp_cleanup(void)
{
	for (int i = 0; i < ntmp; i++) {
		unlink(tmp_paths[i]);
		free(tmp_paths[i]);
	}
	free(tmp_paths);
	tmp_paths = NULL;
	ntmp = tmp_cap = 0;
}

static char *tmp_register(char *path)
{
	static int registered;
	if (!registered) {
		atexit(tmp_cleanup);
		registered = 1;
	}
	if (ntmp == tmp_cap) {
		tmp_cap = tmp_cap ? 2 * tmp_cap : 64;
		tmp_paths = realloc(tmp_paths, (size_t)tmp_cap * sizeof(*tmp_paths));
		if (!tmp_paths)
			abort();
	}
	tmp_paths[ntmp++] = path;
	return path;
}

void uft_tmp_release(char *path)
{
	if (!path)
		return;
	for (int i = 0; i < ntmp; i++) {
		if (tmp_paths[i] == path) {
			tmp_paths[i] = tmp_paths[--ntmp];
			break;
		}
	}
	unlink(path);
	free(path);
}

char *uft_tmpname(void)
{
	/* under tests/run.sh, in its scratch directory (removed even if a test crashes) */
	const char *dir = getenv("UF_TMP");
	if (!dir || !*dir)
		dir = getenv("TMPDIR");
	char *path;
	if (asprintf(&path, "%s/uf-unit-XXXXXX", dir && *dir ? dir : "/tmp") < 0)
		abort();
	int fd = mkstemp(path);
	if (fd < 0) {
		perror("mkstemp");
		abort();
	}
	close(fd);
	unlink(path);
	return tmp_register(path);
}

char *uft_tmpfile(const void *data, size_t len)
{
	char *path = uft_tmpname();
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0 || write(fd, data, len) != (ssize_t)len) {
		perror(path);
		abort();
	}
	close(fd);
	return path;
}

char *uft_slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	size_t cap = 4096, n = 0;
	char *buf = malloc(cap + 1);
	size_t r;
	while (buf && (r = fread(buf + n, 1, cap - n, f)) > 0) {
		n += r;
		if (n == cap) {
			char *b = realloc(buf, 2 * cap + 1);
			if (!b) {
				free(buf);
				buf = NULL;
				break;
			}
			buf = b;
			cap *= 2;
		}
	}
	fclose(f);
	if (!buf)
		return NULL;
	buf[n] = '\0';
	if (len)
		*len = n;
	return buf;
}

int uft_open_out(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		perror(path);
		abort();
	}
	return fd;
}

int uft_hvt_init(struct hvt *h, uint64_t mem_size, const struct uf_local_opts *lo, int console_fd)
{
	char err[512];
	memset(h, 0, sizeof(*h));
	h->kvm_fd = h->vm_fd = h->vcpu_fd = -1;
	h->console_fd = console_fd;
	h->opt = (struct hvt_options){
	    .image = "/images/unit-test.uf", .mem_size = mem_size, .stack_size = UFT_STACK, .batch_max = 64};
	uf_limits_defaults(&h->opt.limits); /* as hvt_main */
	h->mem_size = mem_size;
	h->mem = calloc(1, mem_size);
	if (!h->mem) {
		fprintf(stderr, "uft_hvt_init: out of memory\n");
		return -1;
	}

	/* What hvt_elf_load records for a text + rodata + data image. */
	struct hvt_layout *lay = &h->lay;
	lay->entry = UFT_TEXT_LO;
	lay->note = (struct uf_image_note){
	    .version = UF_ABI_VERSION, .syscall_entry = UFT_TEXT_LO + 0x100, .exc_table = UFT_RO_LO};
	for (int v = 0; v < 32; v++)
		lay->exc_handlers[v] = UFT_TEXT_LO + 0x200 + 16 * (uint64_t)v;
	lay->exec[lay->nexec++] = (struct hvt_region){UFT_TEXT_LO, UFT_TEXT_HI};
	lay->ro[lay->nro++] = (struct hvt_region){UFT_RO_LO, UFT_RO_HI};
	lay->rw[lay->nrw++] = (struct hvt_region){UFT_DATA_LO, UFT_DATA_HI};
	lay->image_end = UFT_IMAGE_END;
	lay->phnum = 0;

	uint64_t rsp;
	if (hvt_boot_setup(h, &rsp, err, sizeof(err)) < 0) {
		fprintf(stderr, "uft_hvt_init: hvt_boot_setup: %s\n", err);
		free(h->mem);
		h->mem = NULL;
		return -1;
	}

	static int devnull = -1; /* opened once, shared by every backend without opts */
	struct uf_local_opts none = {.queue = "input", .out_fd = -1, .err_fd = -1};
	if (!lo) {
		if (devnull < 0)
			devnull = open("/dev/null", O_WRONLY | O_CLOEXEC);
		none.out_fd = none.err_fd = devnull;
		lo = &none;
	}
	h->backend = uf_local_backend_open(lo, err, sizeof(err));
	if (!h->backend) {
		fprintf(stderr, "uft_hvt_init: uf_local_backend_open: %s\n", err);
		free(h->mem);
		h->mem = NULL;
		return -1;
	}
	return 0;
}

void uft_hvt_free(struct hvt *h)
{
	if (h->backend)
		h->backend->close(h->backend, 1); /* the unit ran: keep what it did */
	h->backend = NULL;
	free(h->mem);
	h->mem = NULL;
}

int uft_fx_open(struct uft_fx *fx, const char *events, const char *kv_file)
{
	return uft_fx_open_mem(fx, events, kv_file, UFT_MEM);
}

int uft_fx_open_mem(struct uft_fx *fx, const char *events, const char *kv_file, uint64_t mem_size)
{
	return uft_fx_open_src(fx, events, kv_file, mem_size, NULL, NULL);
}

int uft_fx_open_src(struct uft_fx *fx, const char *events, const char *kv_file, uint64_t mem_size, const char *source,
                    const char *attrs)
{
	memset(fx, 0, sizeof(*fx));
	fx->events = events ? uft_tmpfile(events, strlen(events)) : NULL;
	fx->out = uft_tmpname();
	fx->err = uft_tmpname();
	fx->console = uft_tmpname();
	fx->out_fd = uft_open_out(fx->out);
	fx->err_fd = uft_open_out(fx->err);
	fx->console_fd = uft_open_out(fx->console);
	struct uf_local_opts lo = {.events_file = fx->events,
	                           .kv_file = kv_file,
	                           .queue = "input",
	                           .source = source,
	                           .attrs = attrs,
	                           .out_fd = fx->out_fd,
	                           .err_fd = fx->err_fd};
	if (uft_hvt_init(&fx->h, mem_size, &lo, fx->console_fd) < 0) {
		close(fx->out_fd);
		close(fx->err_fd);
		close(fx->console_fd);
		return -1;
	}
	return 0;
}

void uft_fx_close(struct uft_fx *fx)
{
	uft_hvt_free(&fx->h);
	close(fx->out_fd);
	close(fx->err_fd);
	close(fx->console_fd);
	uft_tmp_release(fx->events);
	uft_tmp_release(fx->out);
	uft_tmp_release(fx->err);
	uft_tmp_release(fx->console);
	fx->events = fx->out = fx->err = fx->console = NULL;
}

int uft_fx_teardown(void **state)
{
	uft_fx_close(*state);
	free(*state);
	return 0;
}
