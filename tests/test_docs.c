/* Documentation that must follow the code: a man page for every function
 * the library exports, and docs/design.md's format version and file list. */
#include "test.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* The source tree: the build directory's parent. */
static const char *src_root(char *buf, size_t len)
{
	snprintf(buf, len, "%s/..", t_build_dir());
	return buf;
}

/* Reads a whole file, NUL-terminated; the caller frees it. */
static char *slurp(const char *path)
{
	FILE *f = fopen(path, "r");
	if (!f)
		t_fail(__FILE__, __LINE__, "fopen", "%s: cannot read", path);
	char *buf = NULL;
	size_t cap = 0, used = 0, n;
	do {
		if (used + 4096 + 1 > cap) {
			cap = (used + 4096 + 1) * 2;
			CHECK((buf = realloc(buf, cap)) != NULL);
		}
		n = fread(buf + used, 1, cap - used - 1, f);
		used += n;
	} while (n > 0);
	fclose(f);
	buf[used] = '\0';
	return buf;
}

/* Appends ", name" to a list of what is missing. */
static void note(char *list, size_t len, const char *name)
{
	size_t at = strlen(list);
	snprintf(list + at, len - at, "%s%s", at ? ", " : "", name);
}

/* The names of the functions build/libshmq.so exports (nm type T), one per
 * line in out; the symbol version suffix (@@SHMQ_0.2) is cut. Returns the
 * number of names. */
static int exported(struct t_run *r, char *out, size_t len)
{
	char lib[512];
	snprintf(lib, sizeof(lib), "%s/libshmq.so", t_build_dir());
	char *argv[] = {"nm", "-D", "--defined-only", lib, NULL};
	if (t_exec(r, NULL, argv) != 0)
		t_fail(__FILE__, __LINE__, "nm -D", "%s", r->err);
	int count = 0;
	out[0] = '\0';
	for (char *line = strtok(r->out, "\n"); line; line = strtok(NULL, "\n")) {
		char addr[64], type[4], name[256];
		if (sscanf(line, "%63s %3s %255s", addr, type, name) != 3 ||
		    strcmp(type, "T"))
			continue;
		name[strcspn(name, "@")] = '\0';
		size_t at = strlen(out);
		snprintf(out + at, len - at, "%s\n", name);
		count++;
	}
	return count;
}

/* `make install-man` is what puts the pages and their NAME links in place:
 * every exported function must have a page there, by its own name. */
TEST_TIMEOUT(docs_every_exported_function_has_a_man_page, 60)
{
	static struct t_run r;
	static char names[65536];
	char root[512], dest[] = "/tmp/shmqt-docs-XXXXXX", arg[600];
	CHECK(exported(&r, names, sizeof(names)) > 10);
	CHECK(mkdtemp(dest) != NULL);
	snprintf(arg, sizeof(arg), "DESTDIR=%s", dest);
	/* env -u: not the jobserver of a `make test` above us */
	char *argv[] = {"env", "-u", "MAKEFLAGS", "-u", "MFLAGS", "-u",
	                "MAKELEVEL", "make", "-s", "-C",
	                (char *)src_root(root, sizeof(root)), "install-man",
	                arg, "PREFIX=/p", NULL};
	int rc = t_exec(&r, NULL, argv);
	if (rc != 0)
		t_fail(__FILE__, __LINE__, "make install-man", "exit %d: %s",
		       rc, r.err);

	char missing[8192] = "", broken[8192] = "";
	for (char *n = strtok(names, "\n"); n; n = strtok(NULL, "\n")) {
		char page[1024], target[1024];
		snprintf(page, sizeof(page), "%s/p/share/man/man3/%s.3", dest, n);
		if (access(page, R_OK) != 0) {
			note(missing, sizeof(missing), n);
			continue;
		}
		/* A link page names a page that was installed. */
		FILE *f = fopen(page, "r");
		char first[256] = "", to[200];
		CHECK(f && fgets(first, sizeof(first), f));
		fclose(f);
		if (sscanf(first, ".so %199s", to) == 1) {
			snprintf(target, sizeof(target), "%s/p/share/man/%s",
			         dest, to);
			if (access(target, R_OK) != 0)
				note(broken, sizeof(broken), n);
		}
	}
	char *rm[] = {"rm", "-rf", dest, NULL};
	t_exec(&r, NULL, rm);
	if (*missing)
		t_fail(__FILE__, __LINE__, "man pages",
		       "exported but in no man page's NAME section: %s", missing);
	if (*broken)
		t_fail(__FILE__, __LINE__, "man pages",
		       "link pages that point to no page: %s", broken);
}

/* The format version src/layout.h defines (#define SHMQ_CHAN_VERSION N). */
static long layout_version(const char *root)
{
	char path[600];
	snprintf(path, sizeof(path), "%s/src/layout.h", root);
	char *text = slurp(path);
	const char *at = strstr(text, "#define SHMQ_CHAN_VERSION");
	CHECK(at != NULL);
	long v = strtol(at + strlen("#define SHMQ_CHAN_VERSION"), NULL, 10);
	free(text);
	return v;
}

/* Every "format version N" design.md states is the one layout.h defines,
 * and it states one. */
TEST(docs_design_states_the_format_version)
{
	char root[512], path[600];
	long want = layout_version(src_root(root, sizeof(root)));
	snprintf(path, sizeof(path), "%s/docs/design.md", root);
	char *text = slurp(path);
	int stated = 0;
	for (const char *p = text; (p = strcasestr(p, "format version ")); p++) {
		char *end;
		long v = strtol(p + strlen("format version "), &end, 10);
		if (end == p + strlen("format version "))
			continue; /* "format version" not followed by a number */
		if (v != want)
			t_fail(__FILE__, __LINE__, "format version",
			       "docs/design.md states format version %ld; "
			       "src/layout.h defines SHMQ_CHAN_VERSION %ld",
			       v, want);
		stated = 1;
	}
	free(text);
	if (!stated)
		t_fail(__FILE__, __LINE__, "format version",
		       "docs/design.md states no \"format version %ld\"", want);
}

/* Whether a table row of md (a line that starts with '|') holds `file`
 * or `src/file`. */
static int in_a_row(const char *md, const char *file)
{
	char a[300], b[300];
	snprintf(a, sizeof(a), "`%s`", file);
	snprintf(b, sizeof(b), "`src/%s`", file);
	for (const char *line = md; line; line = strchr(line, '\n')) {
		line += *line == '\n';
		if (*line != '|')
			continue;
		const char *end = strchr(line, '\n');
		size_t n = end ? (size_t)(end - line) : strlen(line);
		char row[4096];
		snprintf(row, sizeof(row), "%.*s", (int)(n < 4095 ? n : 4095),
		         line);
		if (strstr(row, a) || strstr(row, b))
			return 1;
	}
	return 0;
}

/* design.md's file table has a row for every .c and .h file of src/, and every
 * src/ file design.md names exists. */
TEST(docs_design_lists_every_source_file)
{
	char root[512], path[600], missing[8192] = "", gone[8192] = "";
	snprintf(path, sizeof(path), "%s/docs/design.md",
	         src_root(root, sizeof(root)));
	char *md = slurp(path);
	snprintf(path, sizeof(path), "%s/src", root);
	DIR *d = opendir(path);
	CHECK(d != NULL);
	int files = 0;
	for (struct dirent *e; (e = readdir(d));) {
		size_t n = strlen(e->d_name);
		if (n < 3 || e->d_name[n - 2] != '.' ||
		    (e->d_name[n - 1] != 'c' && e->d_name[n - 1] != 'h'))
			continue;
		files++;
		if (!in_a_row(md, e->d_name))
			note(missing, sizeof(missing), e->d_name);
	}
	closedir(d);
	CHECK(files > 0);
	/* Every src/NAME.c or src/NAME.h the text names is there. */
	for (const char *p = md; (p = strstr(p, "src/")); p += 4) {
		size_t n = strspn(p + 4, "abcdefghijklmnopqrstuvwxyz0123456789_");
		if (n == 0 || p[4 + n] != '.' ||
		    (p[5 + n] != 'c' && p[5 + n] != 'h') ||
		    (p[6 + n] && strchr("abcdefghijklmnopqrstuvwxyz0123456789_",
		                          p[6 + n])))
			continue; /* not a C file name (src/include/, ...) */
		char name[300], file[900];
		snprintf(name, sizeof(name), "src/%.*s", (int)n + 2, p + 4);
		snprintf(file, sizeof(file), "%s/%s", root, name);
		struct stat st;
		if (stat(file, &st) != 0 && !strstr(gone, name))
			note(gone, sizeof(gone), name);
	}
	free(md);
	if (*missing)
		t_fail(__FILE__, __LINE__, "design.md file table",
		       "docs/design.md has no table row for: %s", missing);
	if (*gone)
		t_fail(__FILE__, __LINE__, "design.md file names",
		       "docs/design.md names files that do not exist: %s", gone);
}
