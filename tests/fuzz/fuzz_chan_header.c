/*
 * libFuzzer target: attach to a channel that a hostile peer scribbled on.
 *
 * Each input patches a valid channel image and may resize it; the result
 * goes into a fresh memfd that is stat'ed, opened as a reader (or writer),
 * received from (try_recv, then a recv whose deadline has passed), sent to
 * (writer), asked for info, and closed. Whatever the bytes, every call must
 * return a value or an error: no crash, no sanitizer report, no hang
 * (-timeout), no leaked memory or fd, no access outside the object: every
 * shared mapping the library makes gets a PROT_NONE page on each side
 * (guard.c: mmap and munmap wrapped at link time), so a stray read or
 * write faults instead of landing in a neighbouring mapping. The images
 * are made once per kind by shmq_chan_create on a memfd, with two
 * messages queued.
 *
 * Input: byte 0, bits 0-1 the kind (0 spsc, 1 mpmc, 2 broadcast, 3 spsc),
 *        bit 2 open as writer;
 *        byte 1, the object's size: 0 the image's, else byte * 64;
 *        then patches: offset (2 bytes, little endian, modulo the image
 *        size), length (1 byte), that many bytes written there.
 *
 *   make fuzz      build build/fuzz/fuzz_chan_header (clang) and run it
 *                  on tests/fuzz/corpus/chan_header for FUZZ_TIME seconds
 */
#include "chan.h" /* the template's bytes: ch->seg */
#include "guard.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_IMAGE 16384 /* every template is smaller */

struct image {
	size_t size;
	unsigned char bytes[MAX_IMAGE];
};

static struct image templates[3];

static void die(const char *what, int rc)
{
	fprintf(stderr, "fuzz_chan_header: %s: %s\n", what,
	        shmq_strerror(rc));
	abort();
}

static void make_template(int kind, struct image *img)
{
	struct shmq_chan_opts o = {.kind = kind, .capacity = 8, .msg_size = 64,
	                           .spin_ns = 0};
	static const char big[100] = "a message that is not the first";
	shmq_chan *ch;
	if (kind == SHMQ_CHAN_SPSC)
		o.capacity = 4096;
	int rc = shmq_chan_create(&ch, "memfd:fuzz-template", SHMQ_WRITER, &o);
	if (rc < 0)
		die("create", rc);
	if ((rc = shmq_chan_send(ch, "hello", 5)) < 0 ||
	    (rc = shmq_chan_send(ch, big, kind == SHMQ_CHAN_SPSC ? 100 : 64)) < 0)
		die("send", rc);
	img->size = shmq_seg_size(ch->seg);
	if (img->size > MAX_IMAGE)
		die("template size", -EFBIG);
	memcpy(img->bytes, shmq_seg_addr(ch->seg), img->size);
	shmq_chan_close(ch);
}

/* The patched image in a new memfd of the size byte 1 asks for. */
static int build_object(const uint8_t *data, size_t size, struct image *img,
                        int *patched)
{
	size_t obj = data[1] ? (size_t)data[1] * 64 : img->size;
	*patched = 0;
	for (size_t i = 2; i + 3 <= size;) {
		size_t off = (data[i] | (size_t)data[i + 1] << 8) % img->size;
		size_t len = data[i + 2];
		i += 3;
		len = len < size - i ? len : size - i;
		len = len < img->size - off ? len : img->size - off;
		memcpy(img->bytes + off, data + i, len);
		i += len;
		*patched = 1;
	}
	int fd = memfd_create("fuzz-chan", MFD_CLOEXEC);
	if (fd < 0 || ftruncate(fd, (off_t)obj) < 0 ||
	    pwrite(fd, img->bytes, obj < img->size ? obj : img->size, 0) < 0)
		die("memfd", -errno);
	*patched |= obj != img->size;
	return fd;
}

/* A reader takes what is there. With no live writer it can never get more
 * messages than the ring holds (spsc: a record takes 8 bytes at least). */
static void drain(shmq_chan *ch, const struct shmq_chan_info *info,
                  int intact)
{
	uint64_t most = info->kind == SHMQ_CHAN_SPSC ? info->capacity / 8
	                                             : info->capacity;
	struct timespec past = {0, 0};
	char buf[256];
	ssize_t n = shmq_chan_try_recv(ch, buf, sizeof(buf));
	if (intact && n != 5)
		die("try_recv on an intact channel", (int)n);
	for (uint64_t i = 0; n >= 0 || n == SHMQ_ELOST; i++) {
		if (n > (ssize_t)sizeof(buf))
			die("recv overran the buffer", -EOVERFLOW);
		if (i > 2 * most + 2)
			die("a reader got more messages than the ring holds",
			    -EBADMSG);
		n = i % 2 ? shmq_chan_try_recv(ch, buf, sizeof(buf))
		          : shmq_chan_recv_timed(ch, buf, sizeof(buf), &past);
	}
}

static void exercise(shmq_chan *ch, int role, int intact)
{
	struct shmq_chan_info info;
	if (shmq_chan_info(ch, &info) < 0 || info.npeers > SHMQ_CHAN_MAX_PEERS)
		die("info", -EINVAL);
	if (role == SHMQ_READER)
		drain(ch, &info, intact);
	else
		shmq_chan_try_send(ch, "fuzz", 4);
}

/* What open may say of a scribbled channel: not a channel, another
 * format, corrupted; or, from scribbled counts, full; a samples channel
 * whose data segment is not there (-EIDRM) or is not ours (-EACCES). */
static int validation_error(int rc)
{
	return rc == SHMQ_ENOTCHAN || rc == SHMQ_EVERSION || rc == -EBADMSG ||
	       rc == -EBUSY || rc == SHMQ_EPEERS || rc == SHMQ_EPOOL ||
	       rc == -EIDRM || rc == -EACCES;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct image img;
	/* no spin: a recv whose deadline has passed returns at once */
	struct shmq_chan_opts no_spin = {.spin_ns = 0};
	struct shmq_chan_info info;
	char loc[32];
	shmq_chan *ch;
	int patched;
	if (!templates[0].size)
		for (int k = 0; k < 3; k++)
			make_template(k + 1, &templates[k]);
	if (size < 2)
		return 0;
	int kind = (data[0] & 3) % 3, role = data[0] & 4 ? SHMQ_WRITER
	                                                : SHMQ_READER;
	int fds = fuzz_count_fds();
	img = templates[kind];
	int fd = build_object(data, size, &img, &patched);
	snprintf(loc, sizeof(loc), "memfd:fd=%d", fd);
	shmq_chan_stat(loc, &info);
	int rc = shmq_chan_open(&ch, loc, role, &no_spin);
	if (rc == 0) {
		/* a broadcast reader starts at the present: nothing to get */
		exercise(ch, role, !patched && kind != 2);
		shmq_chan_close(ch);
	} else if (!patched || !validation_error(rc)) {
		die(patched ? "open of a scribbled channel" : "open", rc);
	}
	close(fd);
	if (fuzz_count_fds() != fds)
		die("an fd leaked", -EMFILE);
	return 0;
}
