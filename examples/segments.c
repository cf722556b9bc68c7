/*
 * Two processes share a System V and a POSIX segment through shmq: the
 * parent creates both, a child writes a line into each, the parent reads
 * them back, shows them in `shmq ls`, and removes both.
 *
 *   build/examples/segments [path/to/shmq]
 */
#include <shmq.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void die(int err, const char *object)
{
	char msg[512];
	fprintf(stderr, "segments: %s\n",
	        shmq_explain(err, object, 0, msg, sizeof(msg)));
	exit(1);
}

/* The child attaches by locator, as an unrelated process would. */
static void child_writes(const char *sysv, const char *posix)
{
	shmq_seg *a, *b;
	int rc = shmq_seg_open(&a, sysv, NULL);
	if (rc < 0)
		die(rc, sysv);
	if ((rc = shmq_seg_open(&b, posix, NULL)) < 0)
		die(rc, posix);
	snprintf(shmq_seg_addr(a), shmq_seg_size(a), "hello from pid %d via %s",
	         (int)getpid(), sysv);
	snprintf(shmq_seg_addr(b), shmq_seg_size(b), "hello from pid %d via %s",
	         (int)getpid(), posix);
	shmq_seg_close(a);
	shmq_seg_close(b);
	_exit(0);
}

static void show_ls(const char *tool)
{
	fflush(stdout); /* our lines first, then the tool's */
	pid_t pid = fork();
	if (pid == 0) {
		execl(tool, tool, "ls", (char *)NULL);
		perror(tool);
		_exit(127);
	}
	waitpid(pid, NULL, 0);
}

int main(int argc, char **argv)
{
	const char *tool = argc > 1 ? argv[1] : "shmq";
	struct shmq_seg_opts opts = {.size = 4096, .mode = 0600};
	char posix[64];
	shmq_seg *sv, *px;

	snprintf(posix, sizeof(posix), "posix:shmq-demo-%d", (int)getpid());
	int rc = shmq_seg_create(&sv, "sysv:private", &opts);
	if (rc < 0)
		die(rc, "sysv:private");
	if ((rc = shmq_seg_create(&px, posix, &opts)) < 0)
		die(rc, posix);
	printf("created %s and %s\n", shmq_seg_locator(sv), posix);
	fflush(stdout); /* before fork, or the child flushes it again */

	pid_t pid = fork();
	if (pid == 0)
		child_writes(shmq_seg_locator(sv), posix);
	int status;
	waitpid(pid, &status, 0); /* the child's exit orders its writes */
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return 1;
	printf("read: %s\nread: %s\n", (char *)shmq_seg_addr(sv),
	       (char *)shmq_seg_addr(px));

	show_ls(tool);
	shmq_seg_unlink(shmq_seg_locator(sv));
	shmq_seg_unlink(posix);
	shmq_seg_close(sv);
	shmq_seg_close(px);
	printf("removed both\n");
	return 0;
}
