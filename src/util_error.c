/* Error codes: shmq__neg_errno, and the static sentence and name of every
 * code. The per-object explanations are in explain.c. */
#include "internal.h"

#include <errno.h>
#include <string.h>

int shmq__neg_errno(void)
{
	return errno > 0 ? -errno : -EIO;
}

static const struct {
	int code;
	const char *name;
	const char *text;
} own[] = {
	{SHMQ_ELOCATOR, "SHMQ_ELOCATOR",
	 "malformed locator (sysv:key=0x7b, sysv:id=N, sysv:ftok=PATH:PROJ, "
	 "sysv:private, sysv-sem:..., sysv-msg:..., posix:NAME, "
	 "posix-sem:NAME, memfd:NAME, memfd:fd=N)"},
	{SHMQ_ESIZEMAX, "SHMQ_ESIZEMAX",
	 "size above the system limit (kernel.shmmax or kernel.shmall; "
	 "SEMMSL in kernel.sem for a semaphore set)"},
	{SHMQ_ESIZEMIN, "SHMQ_ESIZEMIN",
	 "size is zero or below the system minimum (SHMMIN)"},
	{SHMQ_ENOHUGE, "SHMQ_ENOHUGE",
	 "huge pages are not available; reserve them with sysctl "
	 "vm.nr_hugepages"},
	{SHMQ_ESMALL, "SHMQ_ESMALL",
	 "the existing object is smaller than the size asked"},
	{SHMQ_EFAMILY, "SHMQ_EFAMILY",
	 "operation not possible for this family of object"},
	{SHMQ_EPEERDEAD, "SHMQ_EPEERDEAD",
	 "a peer died without closing the channel"},
	{SHMQ_ELOST, "SHMQ_ELOST",
	 "messages were overwritten before this reader got them (lost)"},
	{SHMQ_EVERSION, "SHMQ_EVERSION",
	 "the object was made by another format version of shmq"},
	{SHMQ_ENOTCHAN, "SHMQ_ENOTCHAN", "the object is not a shmq channel"},
	{SHMQ_EPEERS, "SHMQ_EPEERS",
	 "every peer slot of the channel is taken (64 at most)"},
	{SHMQ_EOWNER, "SHMQ_EOWNER",
	 "the object belongs to another user (it may have taken the name "
	 "first); not attached"},
	{SHMQ_ETRUNCATED, "SHMQ_ETRUNCATED",
	 "the object was truncated by another process"},
};

#define NOWN (sizeof(own) / sizeof(own[0]))

SHMQ_API const char *shmq_strerror(int err)
{
	for (size_t i = 0; i < NOWN; i++)
		if (own[i].code == err)
			return own[i].text;
	if (err == 0)
		return "success";
	if (err < 0 && err > -SHMQ_EBASE)
		return strerrordesc_np(-err) ? strerrordesc_np(-err)
		                             : "unknown error";
	return "unknown error";
}

SHMQ_API const char *shmq_err_name(int err)
{
	for (size_t i = 0; i < NOWN; i++)
		if (own[i].code == err)
			return own[i].name;
	if (err < 0 && err > -SHMQ_EBASE && strerrorname_np(-err))
		return strerrorname_np(-err);
	return err == 0 ? "OK" : "EUNKNOWN";
}
