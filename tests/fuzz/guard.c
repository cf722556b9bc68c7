/* Guard pages around the library's shared mappings, an fd count, and the
 * channel targets' common drive (guard.h). */
#include "guard.h"
#include "chan.h"
#include "layout.h"

#include <dirent.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#define PAGE 4096
#define GUARDED_MAX 16

static struct {
	char *addr;
	size_t len;
} guarded[GUARDED_MAX];

/* A shared mapping of an fd, between two PROT_NONE pages. */
void *__wrap_mmap(void *addr, size_t len, int prot, int flags, int fd,
                  off_t off)
{
	int slot = 0;
	while (slot < GUARDED_MAX && guarded[slot].addr)
		slot++;
	if (addr || fd < 0 || !(flags & MAP_SHARED) || slot == GUARDED_MAX)
		return __real_mmap(addr, len, prot, flags, fd, off);
	size_t span = (len + PAGE - 1) / PAGE * PAGE + 2 * PAGE;
	char *base = __real_mmap(NULL, span, PROT_NONE,
	                         MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (base == MAP_FAILED)
		return base;
	void *p = __real_mmap(base + PAGE, len, prot, flags | MAP_FIXED, fd,
	                      off);
	if (p == MAP_FAILED) {
		__real_munmap(base, span);
		return p;
	}
	guarded[slot].addr = p;
	guarded[slot].len = span;
	return p;
}

int __wrap_munmap(void *addr, size_t len)
{
	for (int i = 0; i < GUARDED_MAX; i++)
		if (guarded[i].addr == addr) {
			guarded[i].addr = NULL;
			return __real_munmap((char *)addr - PAGE, guarded[i].len);
		}
	return __real_munmap(addr, len);
}

int fuzz_count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;
	if (!d)
		return -1;
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

#define STATE_OFF 128u /* header line 2: the counters */
#define STATE_HDR (sizeof(struct shmq_chan_hdr) - STATE_OFF)
#define PEERS_LEN (SHMQ_CHAN_RING_OFF - SHMQ_CHAN_PEERS_OFF)

/* Where patch offset off lands among the shared state's pieces. */
static unsigned char *state_at(unsigned char *base, size_t ring_len,
                               size_t off, size_t *room)
{
	off %= STATE_HDR + PEERS_LEN + ring_len;
	if (off < STATE_HDR) {
		*room = STATE_HDR - off;
		return base + STATE_OFF + off;
	}
	off -= STATE_HDR;
	if (off < PEERS_LEN) {
		*room = PEERS_LEN - off;
		return base + SHMQ_CHAN_PEERS_OFF + off;
	}
	off -= PEERS_LEN;
	*room = ring_len - off;
	return base + SHMQ_CHAN_RING_OFF + off;
}

void fuzz_scribble(unsigned char *base, size_t ring_len,
                   const unsigned char *data, size_t size)
{
	size_t room;
	for (size_t i = 0; i + 3 <= size;) {
		unsigned char *p = state_at(base, ring_len,
		                            data[i] | (size_t)data[i + 1] << 8,
		                            &room);
		size_t len = data[i + 2];
		i += 3;
		len = len < size - i ? len : size - i;
		len = len < room ? len : room;
		memcpy(p, data + i, len);
		i += len;
	}
}

void fuzz_drive(const struct fuzz_peers *p, shmq_chan *w, shmq_chan *r,
                const char *loc, int write_first, int fds)
{
	struct shmq_chan_info info;
	if (write_first)
		p->write_some(w);
	p->reader_acts(r);
	p->write_some(w);
	p->reader_acts(r);
	shmq_chan_info(w, &info);
	shmq_chan_info(r, &info);
	shmq_chan_stat(loc, &info);
	shmq_chan_close(r);
	shmq_chan_close(w);
	if (fuzz_count_fds() != fds)
		fuzz_die("an fd leaked", -EMFILE);
}

void fuzz_die(const char *what, long rc)
{
	fprintf(stderr, "fuzz: %s: %ld (%s)\n", what, rc,
	        rc < 0 && rc > -0x10000 ? shmq_strerror((int)rc) : "");
	abort();
}

void fuzz_scribble_chan(shmq_chan *w, const unsigned char *data,
                        size_t size)
{
	fuzz_scribble(shmq_seg_addr(w->seg),
	              shmq_seg_size(w->seg) - SHMQ_CHAN_RING_OFF, data + 1,
	              size - 1);
}
