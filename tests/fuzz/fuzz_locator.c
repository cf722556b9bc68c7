/*
 * libFuzzer target: locator parsing (src/ipc_locator.c), parse only.
 *
 * The input, cut at its first NUL, is a locator: every family's parser
 * (sysv:, sysv-sem:, sysv-msg: key=, id=, ftok=, private; posix:, bare
 * names; posix-sem:; memfd: NAME, fd=N, pid=P,fd=N) gets it. Nothing is
 * created or opened: ftok= only stats its path. Whatever the text:
 * - parse returns 0, SHMQ_ELOCATOR with the reason, or ftok's -errno;
 * - a parsed locator formats, and its canonical text parses back to the
 *   same locator (and formats to the same text);
 * - the error line for the text (shmq_explain) fits and ends.
 *
 *   make fuzz      build build/fuzz/fuzz_locator (clang) and run it on
 *                  tests/fuzz/corpus/locator for FUZZ_TIME seconds
 */
#include "internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void die(const char *what, const char *text, int rc)
{
	fprintf(stderr, "fuzz_locator: %s: \"%s\": %d\n", what, text, rc);
	abort();
}

static int same(const struct shmq_locator *a, const struct shmq_locator *b)
{
	return a->family == b->family && a->by == b->by && a->key == b->key &&
	       a->id == b->id && a->fd == b->fd && a->pid == b->pid &&
	       !strcmp(a->name, b->name);
}

/* The canonical text of a parsed locator names the same object. */
static void round_trip(const char *text, const struct shmq_locator *loc)
{
	char canon[SHMQ_LOCATOR_MAX], again[SHMQ_LOCATOR_MAX];
	struct shmq_locator back;
	const char *why;
	int n = shmq_locator_format(loc, canon, sizeof(canon));
	if (n <= 0 || (size_t)n != strlen(canon))
		die("format of a parsed locator", text, n);
	int rc = shmq__locator_parse(canon, &back, &why);
	if (rc != 0 || !same(loc, &back))
		die("the canonical text parses to another locator", canon, rc);
	if (shmq_locator_format(&back, again, sizeof(again)) != n ||
	    strcmp(canon, again))
		die("the canonical text is not canonical", canon, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char text[1100], line[1024];
	struct shmq_locator loc;
	const char *why;
	if (size >= sizeof(text))
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	memset(&loc, 0x5a, sizeof(loc));
	int rc = shmq__locator_parse(text, &loc, &why);
	if (rc == 0)
		round_trip(text, &loc);
	else if (rc == SHMQ_ELOCATOR && (!why || !*why))
		die("malformed without a reason", text, rc);
	else if (rc != SHMQ_ELOCATOR && (rc >= 0 || rc < -4095))
		die("parse returned neither 0, SHMQ_ELOCATOR nor an errno",
		    text, rc);
	if (shmq_locator_parse(text, &loc) != rc)
		die("the public parse disagrees", text, rc);
	shmq_explain(rc ? rc : -ENOENT, text, 0, line, sizeof(line));
	if (strnlen(line, sizeof(line)) >= sizeof(line))
		die("the error line is not terminated", text, rc);
	return 0;
}
