/*
 * libFuzzer target: attach to a board that a hostile process scribbled on.
 *
 * Each input patches a valid board image (3 entries of 40 bytes, two of
 * them set, one named) and may resize it; the result goes into a fresh
 * memfd that is stat'ed, opened, read (every entry, and one out of range),
 * waited on (a deadline already passed), searched by name, set (with a
 * deadline already passed: a scribbled lock word may name a live task),
 * bound a name (which waits 1 s at most for such a lock), asked for info,
 * and closed. Whatever the bytes, every call must return a value or
 * an error: no crash, no sanitizer report, no hang (-timeout), no leaked
 * fd, no access outside the object (guard.c's PROT_NONE pages), and a get
 * never returns more than the value size.
 *
 * Input: byte 0, bit 0: set an entry before the reads;
 *        byte 1, the object's size: 0 the image's, else byte * 64;
 *        then patches: offset (2 bytes, little endian, modulo the image
 *        size), length (1 byte), that many bytes written there.
 */
#include "board.h" /* the template's bytes */
#include "guard.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_IMAGE 4096
#define VALUE 40

static unsigned char image[MAX_IMAGE];
static size_t image_size;

static void die(const char *what, int rc)
{
	fprintf(stderr, "fuzz_board: %s: %s\n", what, shmq_strerror(rc));
	abort();
}

static void make_template(void)
{
	struct shmq_board_opts o = {.entries = 3, .value_size = VALUE};
	shmq_board *b;
	int rc = shmq_board_create(&b, "memfd:fuzz-board", &o);
	if (rc < 0)
		die("create", rc);
	if ((rc = shmq_board_set(b, 0, "first value", 11)) < 0 ||
	    (rc = shmq_board_set(b, 0, "second, longer value", 20)) < 0 ||
	    (rc = shmq_board_bind(b, "price")) < 0 ||
	    (rc = shmq_board_set(b, (uint32_t)rc, "42", 2)) < 0)
		die("set", rc);
	image_size = b->object_size;
	if (image_size > MAX_IMAGE)
		die("template size", -EFBIG);
	memcpy(image, b->base, image_size);
	shmq_board_close(b);
}

static int build_object(const uint8_t *data, size_t size, int *patched)
{
	static unsigned char img[MAX_IMAGE];
	size_t obj = data[1] ? (size_t)data[1] * 64 : image_size;
	memcpy(img, image, image_size);
	*patched = obj != image_size;
	for (size_t i = 2; i + 3 <= size;) {
		size_t off = (data[i] | (size_t)data[i + 1] << 8) % image_size;
		size_t len = data[i + 2];
		i += 3;
		len = len < size - i ? len : size - i;
		len = len < image_size - off ? len : image_size - off;
		memcpy(img + off, data + i, len);
		i += len;
		*patched = 1;
	}
	int fd = memfd_create("fuzz-board", MFD_CLOEXEC);
	if (fd < 0 || ftruncate(fd, (off_t)obj) < 0 ||
	    pwrite(fd, img, obj < image_size ? obj : image_size, 0) < 0)
		die("memfd", -errno);
	return fd;
}

static void exercise(shmq_board *b, int set_first, int intact)
{
	struct shmq_board_info in;
	struct timespec past = {0, 0};
	char buf[VALUE + 8], name[SHMQ_BOARD_NAME_MAX + 1];
	uint64_t seq;
	if (shmq_board_info(b, &in) < 0)
		return;
	/* a scribbled lock word may name a live task: wait for nobody */
	if (set_first)
		shmq_board_set_timed(b, 1, "fuzz", 4, &past);
	for (uint32_t i = 0; i <= in.entries && i < 8; i++) {
		ssize_t n = shmq_board_get(b, i, buf, sizeof(buf), &seq);
		if (n > (ssize_t)in.value_size)
			die("get returned more than the value size", -EOVERFLOW);
		if (intact && i == 0 && (n != 20 || seq != 2))
			die("get of an intact board", (int)n);
		shmq_board_name(b, i, name, sizeof(name));
		shmq_board_wait_timed(b, i, seq, &past);
	}
	shmq_board_wait_timed(b, SHMQ_BOARD_ANY, 0, &past);
	int at = shmq_board_find(b, "price");
	if (intact && at != 1)
		die("find on an intact board", at);
	shmq_board_bind(b, "volume");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct shmq_board_info in;
	char loc[32];
	shmq_board *b;
	int patched;
	if (!image_size)
		make_template();
	if (size < 2)
		return 0;
	int fds = fuzz_count_fds();
	int fd = build_object(data, size, &patched);
	snprintf(loc, sizeof(loc), "memfd:fd=%d", fd);
	shmq_board_stat(loc, &in);
	int rc = shmq_board_open(&b, loc, NULL);
	if (rc == 0) {
		exercise(b, data[0] & 1, !patched);
		shmq_board_close(b);
	} else if (!patched || (rc != SHMQ_ENOTBOARD && rc != SHMQ_EVERSION &&
	                        rc != -EBADMSG)) {
		die(patched ? "open of a scribbled board" : "open", rc);
	}
	close(fd);
	if (fuzz_count_fds() != fds)
		die("an fd leaked", -EMFILE);
	return 0;
}
