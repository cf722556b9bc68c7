/*
 * A plain main for a fuzz target: feeds every file named, or every file of
 * each directory named (in name order), to LLVMFuzzerTestOneInput once.
 * Built with the suite's compiler and sanitizers (no libFuzzer), so the
 * corpora replay on every machine: the tests fuzz_corpus_TARGET run it on
 * tests/fuzz/corpus/TARGET. A property a target checks aborts; a sanitizer
 * report ends the process; otherwise it prints "replayed N inputs".
 *
 *   build/replay/fuzz_chan_ring tests/fuzz/corpus/chan_ring
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REPLAY_MAX (1u << 20) /* the fuzz runs cap inputs at 1024 bytes */

static uint8_t input[REPLAY_MAX];

static int replay_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (!f) {
		dprintf(2, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	size_t n = fread(input, 1, sizeof(input), f);
	int bad = ferror(f) || !feof(f);
	fclose(f);
	if (bad) {
		dprintf(2, "replay: %s: unreadable or over %u bytes\n",
		        path, REPLAY_MAX);
		return -1;
	}
	/* Named on stderr first: a crash inside leaves the culprit above. */
	dprintf(2, "replay: %s (%zu bytes)\n", path, n);
	LLVMFuzzerTestOneInput(input, n);
	return 0;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

/* Every regular file of dir; the count replayed, or -1. */
static long replay_dir(const char *dir)
{
	struct dirent **ents;
	long done = 0;
	int n = scandir(dir, &ents, NULL, by_name);
	if (n < 0) {
		dprintf(2, "replay: %s: %s\n", dir, strerror(errno));
		return -1;
	}
	for (int i = 0; i < n; i++) {
		char path[4096];
		struct stat st;
		snprintf(path, sizeof(path), "%s/%s", dir, ents[i]->d_name);
		if (done >= 0 && stat(path, &st) == 0 && S_ISREG(st.st_mode))
			done = replay_file(path) < 0 ? -1 : done + 1;
		free(ents[i]);
	}
	free(ents);
	return done;
}

int main(int argc, char **argv)
{
	long total = 0;
	if (argc < 2) {
		dprintf(2, "usage: %s FILE|DIR...\n", argv[0]);
		return 2;
	}
	for (int i = 1; i < argc; i++) {
		struct stat st;
		long n = stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode)
		                 ? replay_dir(argv[i])
		                 : replay_file(argv[i]) < 0 ? -1 : 1;
		if (n < 0)
			return 1;
		total += n;
	}
	dprintf(1, "replayed %ld inputs\n", total); /* fd 1: a target may swap stdout */
	return 0;
}
