/*
 * The Python module (python/): each test runs one pytest file of
 * python/tests/ with the module make built into build/python/, under
 * faulthandler (a crash prints the Python stack), with names the runner
 * removes (SHMQ_TEST_PREFIX, SHMQ_TEST_KEY). A missing python3-dev,
 * python3-pytest or python3-numpy is a dependency skip; a skip inside
 * pytest fails the test, since the runner could not count it.
 */
#include "test.h"
#include "tutil.h"

#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The interpreter the module was built for (build/python/.python), or
 * a dependency skip when the module is not there. */
static void py_interpreter(char *buf, size_t len)
{
	char path[512];
	glob_t g;
	FILE *f;

	snprintf(path, sizeof(path), "%s/python/shmq.*.so", t_build_dir());
	int found = glob(path, 0, NULL, &g) == 0;
	globfree(&g);
	snprintf(path, sizeof(path), "%s/python/.python", t_build_dir());
	if (!found || !(f = fopen(path, "r")))
		t_skip_dep("python3-dev", "the Python module is not built "
		           "(make builds it when Python.h is there)");
	if (!fgets(buf, (int)len, f))
		buf[0] = '\0';
	fclose(f);
	buf[strcspn(buf, "\n")] = '\0';
}

static void py_need(const char *py, const char *module, const char *pkg)
{
	struct t_run r;
	char code[64];
	snprintf(code, sizeof(code), "import %s", module);
	char *argv[] = {(char *)py, "-c", code, NULL};
	if (t_exec(&r, NULL, argv) != 0)
		t_skip_dep(pkg, "a Python test did not run");
}

/* Runs python/tests/<file> with pytest; prints its summary line. */
static void pytest(const char *file, int numpy)
{
	char py[256], path[512], prefix[64], key[32], pypath[1024];
	struct t_run r;

	py_interpreter(py, sizeof(py));
	py_need(py, "pytest", "python3-pytest");
	if (numpy)
		py_need(py, "numpy", "python3-numpy");
	snprintf(pypath, sizeof(pypath), "%s/python:python/tests", t_build_dir());
	snprintf(key, sizeof(key), "0x%08x", (unsigned)t_key(0));
	setenv("PYTHONPATH", pypath, 1);
	setenv("SHMQ_TEST_PREFIX", t_name(prefix, sizeof(prefix), "py"), 1);
	setenv("SHMQ_TEST_KEY", key, 1);
	snprintf(path, sizeof(path), "python/tests/%s", file);
	char *argv[] = {py, "-X", "faulthandler", "-m", "pytest", "-q", "-rs",
	                "-p", "no:cacheprovider", path, NULL};
	int st = t_exec(&r, NULL, argv);
	size_t n = strlen(r.out);
	const char *tail = n > 1500 ? r.out + n - 1500 : r.out;
	if (st != 0)
		t_fail(__FILE__, __LINE__, "pytest", "status %d: ...%s%s", st,
		       tail, r.err);
	if (strstr(r.out, " skipped"))
		t_fail(__FILE__, __LINE__, "no skip inside pytest", "%s", tail);
	while (n && r.out[n - 1] == '\n')
		r.out[--n] = '\0';
	const char *last = strrchr(r.out, '\n');
	printf("  pytest %s: %s\n", file, last ? last + 1 : r.out);
}

TEST_TIMEOUT(python_segment_shares_memory_with_numpy_and_multiprocessing, 60)
{
	pytest("test_segment.py", 1);
}

TEST_TIMEOUT(python_channel_delivers_views_tool_death_and_ctrl_c, 60)
{
	pytest("test_channel.py", 1);
}

TEST_TIMEOUT(python_asyncio_reads_two_channels_beside_a_timer, 60)
{
	pytest("test_async.py", 0);
}

TEST_TIMEOUT(python_100k_rounds_leak_no_fd_mapping_or_memory, 120)
{
	pytest("test_leaks.py", 0);
}

TEST_TIMEOUT(python_bad_input_raises_and_never_crashes, 60)
{
	pytest("test_bad_input.py", 0);
}
