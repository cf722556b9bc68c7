/*
 * libFuzzer target: the probe that tells shmq ls and shmq stat whether an
 * object is a channel and whether it is stale (shmq__chan_probe in
 * src/chan_info.c). It reads any file in /dev/shm, whoever wrote it.
 *
 * Each input becomes the contents of a file (made once per run with
 * mkstemp in $TMPDIR or /tmp, removed at exit), which is probed by name.
 * The probe reads the header and the peer table with pread and asks
 * whether each active peer is alive (its lock byte, its pid's start time in
 * /proc): this target holds the lock bytes of the peers the input names, so
 * both answers are reached. Whatever the bytes: 0 or 1, stale only for a
 * channel, no crash, no sanitizer report, no hang, no leaked fd.
 *
 * Input: byte 0, bit 0 the channel magic is written over the header's
 *        first 8 bytes; bits 1-7 the file's size: 0 all of it, else
 *        byte / 2 * 128;
 *        byte 1, the peers 0..7 whose lock bytes we hold;
 *        the next 320 bytes the header (zeros where the input ends);
 *        the rest the peer table, from offset 4096.
 *
 *   make fuzz      build build/fuzz/fuzz_chan_probe (clang) and run it on
 *                  tests/fuzz/corpus/chan_probe for FUZZ_TIME seconds
 */
#include "internal.h"
#include "layout.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define HDR sizeof(struct shmq_chan_hdr)
#define IMAGE (SHMQ_CHAN_RING_OFF)

static char path[256];

static void die(const char *what, int rc)
{
	fprintf(stderr, "fuzz_chan_probe: %s: %d\n", what, rc);
	abort();
}

static void remove_file(void)
{
	unlink(path);
}

static void make_file(void)
{
	const char *dir = getenv("TMPDIR");
	snprintf(path, sizeof(path), "%s/shmq-fuzz-probe-XXXXXX",
	         dir && *dir ? dir : "/tmp");
	int fd = mkstemp(path);
	if (fd < 0)
		die("mkstemp", -errno);
	close(fd);
	atexit(remove_file);
}

/* The object the input describes, in the file. */
static void write_image(const uint8_t *data, size_t size)
{
	static unsigned char image[IMAGE];
	const uint64_t magic = SHMQ_CHAN_MAGIC;
	size_t obj = data[0] >> 1 ? (size_t)(data[0] >> 1) * 128 : IMAGE;
	memset(image, 0, sizeof(image));
	data += 2, size -= 2;
	memcpy(image, data, size < HDR ? size : HDR);
	if (size > HDR)
		memcpy(image + SHMQ_CHAN_PEERS_OFF, data + HDR,
		       size - HDR < IMAGE - SHMQ_CHAN_PEERS_OFF
		               ? size - HDR
		               : IMAGE - SHMQ_CHAN_PEERS_OFF);
	if (data[-2] & 1)
		memcpy(image, &magic, sizeof(magic));
	int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	if (fd < 0 || pwrite(fd, image, obj < IMAGE ? obj : IMAGE, 0) < 0 ||
	    ftruncate(fd, (off_t)obj) < 0)
		die("write the object", -errno);
	close(fd);
}

/* Holds the lock bytes of the peers in mask (an fd of our own, so that
 * the probe's fd sees them held); returns the fd. */
static int hold_peers(unsigned mask)
{
	int fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		die("open", -errno);
	for (unsigned i = 0; i < 8; i++) {
		struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET,
		                   .l_start = (off_t)i, .l_len = 1};
		if (mask & 1u << i && fcntl(fd, F_OFD_SETLK, &fl) < 0)
			die("lock a peer byte", -errno);
	}
	return fd;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	int stale = -1;
	if (!path[0])
		make_file();
	if (size < 2)
		return 0;
	write_image(data, size);
	int held = hold_peers(data[1]);
	int is_chan = shmq__chan_probe(AT_FDCWD, path, &stale);
	close(held);
	if (is_chan != 0 && is_chan != 1)
		die("probe is neither 0 nor 1", is_chan);
	if (is_chan && stale != 0 && stale != 1)
		die("stale is neither 0 nor 1", stale);
	if (!is_chan && stale == 1)
		die("a stale object that is no channel", stale);
	return 0;
}
