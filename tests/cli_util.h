/* Helpers shared by the tests of the shmq tool (tests/test_cli_*.c):
 * running it, checking what it printed, and the objects it works on, seen
 * through the kernel rather than through the library. Failures end the
 * test like CHECK does. */
#ifndef SHMQ_CLI_UTIL_H
#define SHMQ_CLI_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <sys/shm.h>
#include <sys/stat.h>
#include <sys/types.h>

struct t_run;

#define NOBODY 65534

/* SHMQ(&r, "ls", "--json"): runs the tool under test. */
#define SHMQ(r, ...) t_shmq((r), NULL, __VA_ARGS__, (char *)NULL)

#define CHECK_STREQ(a, b)                                                    \
	do {                                                                 \
		const char *s_a_ = (a), *s_b_ = (b);                         \
		if (strcmp(s_a_, s_b_) != 0)                                 \
			t_fail(__FILE__, __LINE__, #a " == " #b,             \
			       "\"%s\" != \"%s\"", s_a_, s_b_);               \
	} while (0)

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* Exit 2, the message and the command's usage line on stderr. */
void check_usage_error(const struct t_run *r, const char *cmd);
/* Exit 1 and one line on stderr, "shmq: ...", that mentions what. */
void check_error_line(const struct t_run *r, const char *what);
/* The same, and nothing on stdout. */
void check_runtime_error(const struct t_run *r, const char *what);
/* Exit 0 (else the failure quotes stderr). */
void check_ok(const struct t_run *r);

/* Existence, asked of the kernel directly rather than of the library. */
int sysv_exists(int32_t key);
int posix_exists(const char *name);
struct shmid_ds sysv_ds(int32_t key);
struct stat posix_st(const char *name);
/* Writes len bytes at off of a POSIX object (through the file) or of a
 * System V segment (through shmat). */
void posix_write(const char *name, off_t off, const void *p, size_t len);
void sysv_write(int32_t key, size_t off, const void *p, size_t len);

/* The line of text that contains needle, copied to buf ("" if none). */
const char *line_with(const char *text, const char *needle, char *buf,
                      size_t len);
/* The value of the line "name: value" of stat's text ("" if missing). */
const char *field(const char *text, const char *name, char *buf, size_t len);

/* Runs the tool as uid and gid 65534 with no groups. Needs root. */
void shmq_as_nobody(struct t_run *r, ...) __attribute__((sentinel));
/* Moves this test process into private IPC and/or mount namespaces (with
 * tmpfs_opts: an empty /dev/shm of its own); skips without root. */
void private_namespaces(int flags, const char *tmpfs_opts);

/* "posix:NAME" -> "NAME" */
const char *bare(const char *posix_loc);
/* Creates through the tool and checks that it worked. */
void create(const char *loc, const char *size, const char *mode);
/* A System V segment (key t_key(1)) and a POSIX object named after tag,
 * both made by the tool; their locators go to s and p. */
void create_both(char *s, size_t slen, char *p, size_t plen, const char *tag,
                 const char *size, const char *mode);
/* Whether both objects of create_both() exist, as expected. */
void check_both(const char *p, int exist);

/* A python3 script that checks the fields of stat --json or ls --json on
 * stdin and prints "family size mode nattch kind key name" for each
 * locator of its arguments. */
extern const char json_fields_py[];

/* A semaphore set of 3 (t_key(1), mode 0640), a queue (t_key(2)) holding
 * one 5-byte message, and a POSIX semaphore; their locators go to sl, ml
 * and pl. */
void make_ipc(char *sl, char *ml, char *pl, size_t len);

#endif
