/*
 * Every fuzz target's corpus (tests/fuzz/corpus/TARGET: the hand-made
 * seeds and every input a fuzzer ever failed on) replayed through the
 * target's own checks in the gcc build with ASan and UBSan
 * ($SHMQ_BUILD/replay/fuzz_TARGET, tests/fuzz/replay.c). The bounds checks
 * on what another process wrote are tested on every machine, clang or not;
 * the fuzz runs themselves (make fuzz) need clang.
 */
#include "test.h"

#include <dirent.h>
#include <stdio.h>
#include <string.h>

#define CORPUS "tests/fuzz/corpus/"

/* Regular files in dir: what the replay must say it replayed. */
static long count_inputs(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	long n = 0;
	if (!d)
		t_fail(__FILE__, __LINE__, "opendir", "%s: cannot read", dir);
	while ((de = readdir(d)))
		n += de->d_type == DT_REG;
	closedir(d);
	return n;
}

static void replay(const char *target)
{
	static struct t_run r;
	char bin[512], dir[256], want[64];
	snprintf(bin, sizeof(bin), "%s/replay/fuzz_%s", t_build_dir(), target);
	snprintf(dir, sizeof(dir), CORPUS "%s", target);
	long n = count_inputs(dir);
	CHECK(n > 0);
	char *argv[] = {bin, dir, NULL};
	if (t_exec(&r, NULL, argv) != 0) {
		/* the last input named on stderr is the one that failed */
		const char *tail = strlen(r.err) > 3000
		                           ? r.err + strlen(r.err) - 3000 : r.err;
		t_fail(__FILE__, __LINE__, "replay exits 0",
		       "%s %s: status %d:\n%s", bin, dir, r.status, tail);
	}
	snprintf(want, sizeof(want), "replayed %ld inputs\n", n);
	CHECK_HAS(r.out, want);
}

TEST(fuzz_corpus_chan_header) { replay("chan_header"); }
TEST(fuzz_corpus_chan_ring) { replay("chan_ring"); }
TEST(fuzz_corpus_chan_samples) { replay("chan_samples"); }
TEST(fuzz_corpus_chan_probe) { replay("chan_probe"); }
TEST(fuzz_corpus_board) { replay("board"); }
TEST(fuzz_corpus_sync) { replay("sync"); }
TEST(fuzz_corpus_locator) { replay("locator"); }
TEST(fuzz_corpus_cli) { replay("cli"); }
