/*
 * new.c - `unifaas new NAME`: a function and its manifest to start from.
 *
 * Writes NAME/NAME.c (a handler that logs each event and pushes a reply)
 * and NAME/NAME.yaml (a workflow NAME with one function NAME that listens
 * to `requests` and pushes to `replies`, image NAME.uf beside it).  From
 * the directory holding NAME/:
 *
 *     unifaas build NAME/NAME.c      (writes NAME/NAME.uf)
 *     unifaas deploy NAME/NAME.yaml
 *     unifaas push NAME requests hello
 *
 * NAME is a valid workflow name and step name (common/rules.h, the rule the
 * manifest applies) that does not start with '.' or '-', since it is also a
 * directory and file name.
 * Nothing is overwritten: an existing NAME/ is refused, and the files are
 * created with O_EXCL.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "rules.h"

static const char c_template[] =
    "/*\n"
    " * %1$s.c - a unifaas function (written by `unifaas new %1$s`).\n"
    " *\n"
    " * uf_handle is called once per event from the queue the manifest lets it\n"
    " * listen to; what it pushes is committed with the event when it returns 0.\n"
    " * Build: unifaas build %1$s/%1$s.c   Deploy: unifaas deploy %1$s/%1$s.yaml\n"
    " * Try it: unifaas push %1$s requests hello   (docs/writing-functions.md)\n"
    " */\n"
    "#include <stdio.h>\n"
    "#include <string.h>\n"
    "#include <unifaas.h>\n"
    "\n"
    "int uf_handle(uf_ctx *ctx, const uf_event *ev)\n"
    "{\n"
    "\tchar reply[256];\n"
    "\tint n = snprintf(reply, sizeof(reply), \"%1$s got %%.*s\", (int)(ev->len < 200 ? ev->len : 200), ev->data);\n"
    "\n"
    "\tprintf(\"event %%s on %%s: %%zu bytes\\n\", ev->id, ev->queue, ev->len); /* the unit's log */\n"
    "\tint err = uf_push(ctx, \"replies\", reply, (size_t)n);\n"
    "\tif (err < 0) {\n"
    "\t\tfprintf(stderr, \"push to replies failed: %%s\\n\", strerror(-err));\n"
    "\t\treturn 1; /* the event is retried, then dead-lettered */\n"
    "\t}\n"
    "\treturn 0;\n"
    "}\n";

static const char yaml_template[] = "# %1$s - a workflow of one function (written by `unifaas new %1$s`).\n"
                                    "# unifaas build %1$s/%1$s.c && unifaas deploy %1$s/%1$s.yaml\n"
                                    "# unifaas push %1$s requests hello; the replies stay in queue `replies`:\n"
                                    "# unifaas events %1$s replies\n"
                                    "# Every key: docs/manifest.md.\n"
                                    "name: %1$s\n"
                                    "functions:\n"
                                    "  %1$s:\n"
                                    "    image: %1$s.uf              # relative to this file: unifaas build's output\n"
                                    "    listen: requests\n"
                                    "    push: [replies]\n"
                                    "    memory: 8MiB\n"
                                    "    timeout_ms: 1000\n"
                                    "    scale: { max_units: 2, idle_ms: 2000 }\n";

static int name_ok(const char *name)
{
	size_t n = strlen(name);
	return uf_name_ok(UF_NAME_WORKFLOW, name, n) && uf_name_ok(UF_NAME_STEP, name, n) && name[0] != '.' &&
	       name[0] != '-';
}

/* Creates dir/dir.ext from the template; 0, or -1 after a message. */
static int write_file(const char *name, const char *ext, const char *tmpl)
{
	char path[2 * UF_NAME_MAX + 16];
	snprintf(path, sizeof(path), "%s/%s.%s", name, name, ext);
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	FILE *f = fd < 0 ? NULL : fdopen(fd, "w");
	if (!f) {
		fprintf(stderr, "unifaas: new: cannot create %s: %s\n", path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	fprintf(f, tmpl, name);
	if (ferror(f) | fclose(f)) {
		fprintf(stderr, "unifaas: new: cannot write %s: %s\n", path, strerror(errno));
		return -1;
	}
	printf("wrote %s\n", path);
	return 0;
}

int cmd_new(int argc, char **argv)
{
	int c;
	while ((c = cli_getopt("new", argc, argv, "", NULL)) != -1)
		return c == 'h' ? UF_EX_OK : UF_EX_USAGE;
	if (cli_nargs("new", argc, argv, 1, 1) < 0)
		return UF_EX_USAGE;
	const char *name = argv[optind];
	if (!name_ok(name)) {
		fprintf(stderr, "unifaas: new: '%s' is not a valid function name: use %s, and no leading '.' or '-'\n",
		        name, uf_name_rule(UF_NAME_WORKFLOW));
		return UF_EX_USAGE;
	}
	if (mkdir(name, 0755) < 0) {
		fprintf(stderr, "unifaas: new: cannot create directory %s: %s%s\n", name, strerror(errno),
		        errno == EEXIST ? " (choose another name, or remove it)" : "");
		return UF_EX_ERROR;
	}
	if (write_file(name, "c", c_template) < 0 || write_file(name, "yaml", yaml_template) < 0)
		return UF_EX_ERROR;
	printf("next: unifaas build %s/%s.c && unifaas deploy %s/%s.yaml\n", name, name, name, name);
	return UF_EX_OK;
}
