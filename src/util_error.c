/* Error codes: shmq__neg_errno, and the sentence and name of every code,
 * generated from SHMQ_ERRNO_MAP (shmq.h). The per-object explanations,
 * which do I/O, are in explain.c. */
#include "internal.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

int shmq__neg_errno(void)
{
	return errno > 0 ? -errno : -EIO;
}

/* The sentence of a known code, NULL for an unknown one. */
static const char *text_of(int err)
{
	switch (err) {
#define XX(name, n, text) case SHMQ_##name: return text;
	SHMQ_ERRNO_MAP(XX)
#undef XX
	case 0:
		return "success";
	}
	return err < 0 && err > -SHMQ_EBASE ? strerrordesc_np(-err) : NULL;
}

SHMQ_API const char *shmq_strerror(int err)
{
	const char *text = text_of(err);
	return text ? text : "unknown error";
}

SHMQ_API const char *shmq_err_name(int err)
{
	switch (err) {
#define XX(name, n, text) case SHMQ_##name: return "SHMQ_" #name;
	SHMQ_ERRNO_MAP(XX)
#undef XX
	case 0:
		return "OK";
	}
	if (err < 0 && err > -SHMQ_EBASE && strerrorname_np(-err))
		return strerrorname_np(-err);
	return "EUNKNOWN";
}

SHMQ_API char *shmq_strerror_r(int err, char *buf, size_t len)
{
	const char *text = text_of(err);
	if (!buf || !len)
		return buf;
	if (text)
		snprintf(buf, len, "%s", text);
	else
		snprintf(buf, len, "unknown error %d", err);
	return buf;
}
