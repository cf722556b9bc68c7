/*
 * shmq for Python: the extension module `shmq`, written over the public
 * API of libshmq (include/shmq.h), which it links statically.
 *
 * Rules this file keeps (docs/python.md says why):
 * - A call that can wait first tries the try_ form with the GIL held (no
 *   thread switch when it does not block), then waits in slices of
 *   SLICE_MS with the _timed form and the GIL released, calling
 *   PyErr_CheckSignals between slices: Ctrl-C interrupts it within a slice.
 * - A handle is used by one thread at a time (the library does no locking):
 *   `inuse` is set, with the GIL held, around every call that releases it;
 *   another thread's call meanwhile raises RuntimeError.
 * - Memory of a mapping is lent out only through buffer exports that are
 *   counted: a segment does not unmap, nor a reserve or peek view end,
 *   while an export is alive (BufferError, as mmap does).
 * - A fork child does not use or close its parent's channel handles (the
 *   library's rule): a generation counter bumped by pthread_atfork says so.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

#include "shmq.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

PyMODINIT_FUNC PyInit_shmq(void);

#define SLICE_MS 20                /* the longest a waiting call ignores Ctrl-C */
#define SCRATCH_MAX (64 * 1024)    /* recv()'s first buffer */
#define EXPLAIN_LEN 1024

#define METH_KW(f) ((PyCFunction)(void (*)(void))(f))

/* ---- Fork generation ------------------------------------------------------ */

static volatile unsigned long fork_gen; /* bumped in every fork child */

static void on_fork_child(void)
{
	fork_gen++;
}

/* ---- Errors --------------------------------------------------------------- */

static PyObject *Error; /* shmq.Error, base of the others */

struct err_class {
	const char *name;   /* shmq.<name> */
	PyObject **builtin; /* second base, or NULL */
	const char *doc;
	PyObject *cls;
};

static PyObject *exc_value_error, *exc_file_not_found, *exc_file_exists,
	*exc_permission, *exc_timeout, *exc_blocking, *exc_broken_pipe;

enum {
	E_NOTFOUND, E_EXISTS, E_ACCESS, E_OWNER, E_DEADLINE, E_WOULDBLOCK,
	E_PEERDEAD, E_OWNERDEAD, E_NOTRECOVERABLE, E_LOCATOR, E_MSGSIZE,
	E_SIZE, E_FAMILY, E_INVALID, E_LOST, E_TRUNCATED, E_CORRUPT,
	E_VERSION, E_NOTCHAN, E_PEERSFULL, E_NOHUGE, E_NOSPACE, E_BUSY,
	E_NCLASS
};

static struct err_class err_classes[E_NCLASS] = {
	[E_NOTFOUND] = {"NotFoundError", &exc_file_not_found,
	                "No such object (ENOENT); also a FileNotFoundError.", 0},
	[E_EXISTS] = {"ExistsError", &exc_file_exists,
	              "The name is taken (EEXIST); also a FileExistsError.", 0},
	[E_ACCESS] = {"AccessError", &exc_permission,
	              "Permission denied (EACCES, EPERM); also a "
	              "PermissionError.", 0},
	[E_OWNER] = {"OwnerError", NULL,
	             "The object belongs to another user (SHMQ_EOWNER): not "
	             "attached unless any_owner=True. An AccessError.", 0},
	[E_DEADLINE] = {"DeadlineError", &exc_timeout,
	                "The timeout passed (ETIMEDOUT); also a TimeoutError.",
	                0},
	[E_WOULDBLOCK] = {"WouldBlockError", &exc_blocking,
	                  "A try_ call would have waited (EAGAIN); also a "
	                  "BlockingIOError.", 0},
	[E_PEERDEAD] = {"PeerDeadError", &exc_broken_pipe,
	                "A peer died without closing the channel "
	                "(SHMQ_EPEERDEAD); .pid is the dead peer's pid (0 if "
	                "unknown). Also a BrokenPipeError.", 0},
	[E_OWNERDEAD] = {"OwnerDeadError", NULL,
	                 "Mutex.lock(): the last holder died holding it "
	                 "(EOWNERDEAD). The caller now HOLDS the lock: repair "
	                 "the data, call consistent(), then unlock().", 0},
	[E_NOTRECOVERABLE] = {"NotRecoverableError", NULL,
	                      "The mutex was unlocked after an owner died "
	                      "without consistent() (ENOTRECOVERABLE).", 0},
	[E_LOCATOR] = {"LocatorError", &exc_value_error,
	               "A malformed locator (SHMQ_ELOCATOR); also a "
	               "ValueError.", 0},
	[E_MSGSIZE] = {"MessageSizeError", &exc_value_error,
	               "A message larger than the channel takes, or than the "
	               "buffer given to recv_into (the message stays queued). "
	               "Also a ValueError.", 0},
	[E_SIZE] = {"SizeError", &exc_value_error,
	            "A size the system refuses (SHMQ_ESIZEMAX, SHMQ_ESIZEMIN) "
	            "or larger than the existing object (SHMQ_ESMALL). Also a "
	            "ValueError.", 0},
	[E_FAMILY] = {"FamilyError", &exc_value_error,
	              "The operation is not possible for this family of object "
	              "(SHMQ_EFAMILY). Also a ValueError.", 0},
	[E_INVALID] = {"InvalidError", &exc_value_error,
	               "The library refused an argument (EINVAL, ERANGE). Also "
	               "a ValueError.", 0},
	[E_LOST] = {"LostError", NULL,
	            "Broadcast, overwrite policy: the writer overwrote messages "
	            "before this reader got them (SHMQ_ELOST); .lost is the "
	            "total this reader missed. The next recv goes on.", 0},
	[E_TRUNCATED] = {"TruncatedError", NULL,
	                 "Another process shrank the object (SHMQ_ETRUNCATED): "
	                 "close it.", 0},
	[E_CORRUPT] = {"CorruptError", NULL,
	               "The channel's shared state does not validate "
	               "(EBADMSG).", 0},
	[E_VERSION] = {"VersionError", NULL,
	               "Another format version of shmq (SHMQ_EVERSION).", 0},
	[E_NOTCHAN] = {"NotChannelError", NULL,
	               "The object is not a shmq channel (SHMQ_ENOTCHAN).", 0},
	[E_PEERSFULL] = {"PeersFullError", NULL,
	                 "Every peer place of the channel is taken "
	                 "(SHMQ_EPEERS).", 0},
	[E_NOHUGE] = {"NoHugePagesError", NULL,
	              "Huge pages are not available (SHMQ_ENOHUGE).", 0},
	[E_NOSPACE] = {"NoSpaceError", NULL,
	               "No space left: /dev/shm full, or a System V limit "
	               "(ENOSPC).", 0},
	[E_BUSY] = {"BusyError", NULL,
	            "A reserve or peek of this channel is still open (EBUSY): "
	            "commit or release it first.", 0},
};

/* The class for a library code (negative errno or SHMQ_E*). */
static PyObject *class_of(int code)
{
	int e;
	switch (code) {
	case -ENOENT: e = E_NOTFOUND; break;
	case -EEXIST: e = E_EXISTS; break;
	case -EACCES: case -EPERM: e = E_ACCESS; break;
	case SHMQ_EOWNER: e = E_OWNER; break;
	case -ETIMEDOUT: e = E_DEADLINE; break;
	case -EAGAIN: e = E_WOULDBLOCK; break;
	case SHMQ_EPEERDEAD: e = E_PEERDEAD; break;
	case -EOWNERDEAD: e = E_OWNERDEAD; break;
	case -ENOTRECOVERABLE: e = E_NOTRECOVERABLE; break;
	case SHMQ_ELOCATOR: e = E_LOCATOR; break;
	case -EMSGSIZE: case -E2BIG: e = E_MSGSIZE; break;
	case SHMQ_ESIZEMAX: case SHMQ_ESIZEMIN: case SHMQ_ESMALL: e = E_SIZE; break;
	case SHMQ_EFAMILY: e = E_FAMILY; break;
	case -EINVAL: case -ERANGE: e = E_INVALID; break;
	case SHMQ_ELOST: e = E_LOST; break;
	case SHMQ_ETRUNCATED: e = E_TRUNCATED; break;
	case -EBADMSG: e = E_CORRUPT; break;
	case SHMQ_EVERSION: e = E_VERSION; break;
	case SHMQ_ENOTCHAN: e = E_NOTCHAN; break;
	case SHMQ_EPEERS: e = E_PEERSFULL; break;
	case SHMQ_ENOHUGE: e = E_NOHUGE; break;
	case -ENOSPC: e = E_NOSPACE; break;
	case -EBUSY: e = E_BUSY; break;
	default: return Error;
	}
	return err_classes[e].cls;
}

/* The explanations name C calls and flags; say them as this module does. */
static const char *const py_words[][2] = {
	{"shmq_chan_stat()", "shmq.stat()"},
	{"shmq_list()", "shmq.ls()"},
	{"shmq_stat()", "shmq.stat()"},
	{"shmq_unlink()", "shmq.unlink()"},
	{"SHMQ_ANY_OWNER", "any_owner=True"},
	{"struct shmq_chan_opts", "shmq.Channel()"},
};

static PyObject *py_line(const char *line)
{
	PyObject *s = PyUnicode_DecodeUTF8(line, (Py_ssize_t)strlen(line),
	                                   "backslashreplace");
	int has = strstr(line, "shmq_") || strstr(line, "SHMQ_");
	for (size_t i = 0; s && has && i < sizeof(py_words) / sizeof(py_words[0]); i++) {
		PyObject *a = PyUnicode_FromString(py_words[i][0]);
		PyObject *b = PyUnicode_FromString(py_words[i][1]);
		PyObject *t = a && b ? PyUnicode_Replace(s, a, b, -1) : NULL;
		Py_XDECREF(a);
		Py_XDECREF(b);
		Py_SETREF(s, t);
	}
	return s;
}

/* Codes met in loops (try_ calls, deadlines): their line is static text,
 * no I/O. The others get shmq_explain's line with live facts. */
static int cheap(int code)
{
	return code == -EAGAIN || code == -ETIMEDOUT || code == -EBUSY ||
	       code == SHMQ_ELOST || code == SHMQ_EPEERDEAD;
}

/* Raises the exception for code about object (may be NULL); size is what
 * shmq_explain takes (a size asked, a message length). pid and lost go to
 * attributes of PeerDeadError and LostError; chan: object is a channel.
 * Returns NULL. */
static PyObject *raise_code_ex(int code, const char *object, size_t size,
                               long pid, unsigned long long lost, int chan)
{
	char line[EXPLAIN_LEN];
	PyObject *cls = class_of(code), *text, *exc;

	if (cheap(code))
		snprintf(line, sizeof(line), "%s%s%s", object ? object : "",
		         object ? ": " : "", shmq_strerror(code));
	else if (code == -EMSGSIZE && chan) {
		/* the channel's own line, without the stat of the object that
		 * quotes its size: a sender may meet this in a loop */
		size_t at = (size_t)snprintf(line, sizeof(line), "%s: ", object);
		shmq_explain(code, NULL, size, line + at, sizeof(line) - at);
	} else
		shmq_explain(code, object, size, line, sizeof(line));
	if (code == SHMQ_EPEERDEAD && pid > 0) {
		size_t at = strlen(line);
		snprintf(line + at, sizeof(line) - at, " (pid %ld)", pid);
	}
	if (!(text = py_line(line)))
		return NULL;
	exc = PyObject_CallFunction(cls, "iO", -code, text);
	Py_DECREF(text);
	if (!exc)
		return NULL;
	PyObject *c = PyLong_FromLong(code);
	PyObject *nm = PyUnicode_FromString(shmq_err_name(code));
	PyObject *p = PyLong_FromLong(pid);
	PyObject *l = PyLong_FromUnsignedLongLong(lost);
	if (!c || !nm || !p || !l || PyObject_SetAttrString(exc, "code", c) ||
	    PyObject_SetAttrString(exc, "name", nm) ||
	    (code == SHMQ_EPEERDEAD && PyObject_SetAttrString(exc, "pid", p)) ||
	    (code == SHMQ_ELOST && PyObject_SetAttrString(exc, "lost", l))) {
		Py_XDECREF(c);
		Py_XDECREF(nm);
		Py_XDECREF(p);
		Py_XDECREF(l);
		Py_DECREF(exc);
		return NULL;
	}
	Py_DECREF(c);
	Py_DECREF(nm);
	Py_DECREF(p);
	Py_DECREF(l);
	PyErr_SetObject(cls, exc);
	Py_DECREF(exc);
	return NULL;
}

static PyObject *raise_code(int code, const char *object)
{
	return raise_code_ex(code, object, 0, 0, 0, 0);
}

/* shmq.Error.__str__: the explanation line, without "[Errno N]". */
static PyObject *error_str(PyObject *unused, PyObject *self)
{
	(void)unused;
	PyObject *s = PyObject_GetAttrString(self, "strerror");
	if (s && PyUnicode_Check(s))
		return s;
	Py_XDECREF(s);
	PyErr_Clear();
	return ((PyTypeObject *)PyExc_OSError)->tp_str(self);
}

static PyMethodDef error_str_def = {"__str__", error_str, METH_O, NULL};

static int make_errors(PyObject *m)
{
	PyObject *dict = PyDict_New(), *fn, *meth;
	exc_value_error = PyExc_ValueError;
	exc_file_not_found = PyExc_FileNotFoundError;
	exc_file_exists = PyExc_FileExistsError;
	exc_permission = PyExc_PermissionError;
	exc_timeout = PyExc_TimeoutError;
	exc_blocking = PyExc_BlockingIOError;
	exc_broken_pipe = PyExc_BrokenPipeError;
	if (!dict || !(fn = PyCFunction_New(&error_str_def, NULL)))
		return -1;
	meth = PyInstanceMethod_New(fn);
	Py_DECREF(fn);
	if (!meth || PyDict_SetItemString(dict, "__str__", meth) < 0)
		return -1;
	Py_DECREF(meth);
	Error = PyErr_NewExceptionWithDoc(
		"shmq.Error",
		"Base of every error shmq raises (an OSError). str(e) is the "
		"library's one-line explanation: the object, what is wrong, the "
		"fix. .errno is the positive code (an errno value, or 4096+N for "
		"shmq's own), .code the library's negative code, .name its "
		"symbol ('ENOENT', 'SHMQ_EPEERDEAD').",
		PyExc_OSError, dict);
	Py_DECREF(dict);
	if (!Error || PyModule_AddObjectRef(m, "Error", Error) < 0)
		return -1;
	for (int i = 0; i < E_NCLASS; i++) {
		struct err_class *c = &err_classes[i];
		char qual[64];
		PyObject *bases;
		snprintf(qual, sizeof(qual), "shmq.%s", c->name);
		if (i == E_OWNER)
			bases = PyTuple_Pack(1, err_classes[E_ACCESS].cls);
		else if (c->builtin)
			bases = PyTuple_Pack(2, Error, *c->builtin);
		else
			bases = PyTuple_Pack(1, Error);
		if (!bases)
			return -1;
		c->cls = PyErr_NewExceptionWithDoc(qual, c->doc, bases, NULL);
		Py_DECREF(bases);
		if (!c->cls || PyModule_AddObjectRef(m, c->name, c->cls) < 0)
			return -1;
	}
	return 0;
}

/* ---- Time and waiting ------------------------------------------------------ */

static int64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

#define FOREVER INT64_MAX

/* timeout (None or seconds >= 0) -> an absolute deadline in ns, FOREVER
 * for None. -1 with an exception for a bad value. */
static int deadline_of(PyObject *timeout, int64_t *end)
{
	if (!timeout || timeout == Py_None) {
		*end = FOREVER;
		return 0;
	}
	double s = PyFloat_AsDouble(timeout);
	if (s == -1.0 && PyErr_Occurred())
		return -1;
	if (isnan(s) || s < 0) {
		PyErr_SetString(PyExc_ValueError,
		                "timeout must be None or a number of seconds >= 0");
		return -1;
	}
	if (s > 1e9) { /* 31 years: forever */
		*end = FOREVER;
		return 0;
	}
	*end = mono_ns() + (int64_t)(s * 1e9);
	return 0;
}

/* A waiting call of the library in _timed form: fn(arg, deadline). */
typedef long (*timed_fn)(void *arg, const struct timespec *deadline);

#define E_SIGNAL (-1000000) /* a Python signal handler raised */

/* Calls fn in slices until it returns anything but -ETIMEDOUT before end,
 * with the GIL released, checking for signals between slices. */
static long wait_sliced(timed_fn fn, void *arg, int64_t end)
{
	for (;;) {
		int64_t now = mono_ns();
		int64_t stop = end - now > SLICE_MS * 1000000LL
		                       ? now + SLICE_MS * 1000000LL : end;
		struct timespec ts = {(time_t)(stop / 1000000000),
		                      (long)(stop % 1000000000)};
		long rc;
		Py_BEGIN_ALLOW_THREADS
		rc = fn(arg, &ts);
		Py_END_ALLOW_THREADS
		if (rc != -ETIMEDOUT || stop >= end)
			return rc;
		if (PyErr_CheckSignals() < 0)
			return E_SIGNAL;
	}
}

/* ---- Segment ------------------------------------------------------------------ */

typedef struct {
	PyObject_HEAD
	shmq_seg *seg;
	char *addr;
	Py_ssize_t size;
	int readonly;
	Py_ssize_t exports; /* buffer exports and sync objects placed in it */
	PyObject *locator;  /* str, canonical */
	PyObject *weakrefs;
} SegObject;

static PyTypeObject SegType;

static int seg_ready(SegObject *s)
{
	if (!s->seg) {
		PyErr_SetString(PyExc_ValueError, "operation on a closed segment");
		return -1;
	}
	return 0;
}

static int huge_flag(PyObject *huge, unsigned *flags)
{
	if (!huge || huge == Py_None)
		return 0;
	if (PyUnicode_Check(huge)) {
		const char *h = PyUnicode_AsUTF8(huge);
		if (!h)
			return -1;
		if (!strcmp(h, "2M")) {
			*flags |= SHMQ_SEG_HUGE_2M;
			return 0;
		}
		if (!strcmp(h, "1G")) {
			*flags |= SHMQ_SEG_HUGE_1G;
			return 0;
		}
	}
	PyErr_SetString(PyExc_ValueError, "huge must be None, '2M' or '1G'");
	return -1;
}

static int mode_of(int mode, unsigned *out)
{
	if (mode < 0 || mode > 07777) {
		PyErr_SetString(PyExc_ValueError, "mode must be 0..0o7777");
		return -1;
	}
	*out = (unsigned)mode;
	return 0;
}

static int seg_init(SegObject *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = {"locator", "size", "create", "exist_ok", "mode",
	                         "readonly", "huge", "any_owner", NULL};
	const char *loc;
	Py_ssize_t size = 0;
	int create = 0, exist_ok = 0, mode = 0600, ro = 0, any = 0;
	PyObject *huge = NULL;
	struct shmq_seg_opts o = {0};
	shmq_seg *seg;
	int rc;

	if (self->seg) {
		PyErr_SetString(PyExc_RuntimeError, "Segment is initialised once");
		return -1;
	}
	if (!PyArg_ParseTupleAndKeywords(args, kw, "s|n$ppipOp", kwlist, &loc,
	                                 &size, &create, &exist_ok, &mode, &ro,
	                                 &huge, &any))
		return -1;
	if (size < 0) {
		PyErr_SetString(PyExc_ValueError, "size must be >= 0");
		return -1;
	}
	if (create && size == 0) {
		PyErr_SetString(PyExc_ValueError, "create=True needs size > 0");
		return -1;
	}
	if (mode_of(mode, &o.mode) < 0 || huge_flag(huge, &o.flags) < 0)
		return -1;
	o.size = (size_t)size;
	o.flags |= (ro ? SHMQ_SEG_RDONLY : 0) | (any ? SHMQ_ANY_OWNER : 0) |
	           (exist_ok ? SHMQ_OPEN_OK : 0);
	rc = create ? shmq_seg_create(&seg, loc, &o) : shmq_seg_open(&seg, loc, &o);
	if (rc < 0) {
		raise_code_ex(rc, loc, (size_t)size, 0, 0, 0);
		return -1;
	}
	PyObject *canon = PyUnicode_DecodeFSDefault(shmq_seg_locator(seg));
	if (!canon) {
		shmq_seg_close(seg);
		return -1;
	}
	self->seg = seg;
	self->addr = shmq_seg_addr(seg);
	self->size = (Py_ssize_t)shmq_seg_size(seg);
	self->readonly = ro;
	Py_XSETREF(self->locator, canon);
	return 0;
}

static PyObject *seg_close(SegObject *self, PyObject *unused)
{
	(void)unused;
	if (!self->seg)
		Py_RETURN_NONE;
	if (self->exports) {
		PyErr_Format(PyExc_BufferError,
		             "cannot close %U: %zd view(s) of it (memoryview, numpy "
		             "array, Mutex/Semaphore/Event) are still alive; delete "
		             "them first", self->locator, self->exports);
		return NULL;
	}
	int rc = shmq_seg_close(self->seg);
	self->seg = NULL;
	self->addr = NULL;
	if (rc < 0)
		return raise_code(rc, PyUnicode_AsUTF8(self->locator));
	Py_RETURN_NONE;
}

static void seg_dealloc(SegObject *self)
{
	if (self->weakrefs)
		PyObject_ClearWeakRefs((PyObject *)self);
	if (self->seg)
		shmq_seg_close(self->seg);
	Py_XDECREF(self->locator);
	Py_TYPE(self)->tp_free((PyObject *)self);
}

static int seg_getbuffer(SegObject *self, Py_buffer *view, int flags)
{
	if (seg_ready(self) < 0) {
		view->obj = NULL;
		return -1;
	}
	if (PyBuffer_FillInfo(view, (PyObject *)self, self->addr, self->size,
	                      self->readonly, flags) < 0)
		return -1;
	self->exports++;
	return 0;
}

static void seg_releasebuffer(SegObject *self, Py_buffer *view)
{
	(void)view;
	self->exports--;
}

static PyBufferProcs seg_as_buffer = {
	(getbufferproc)seg_getbuffer,
	(releasebufferproc)seg_releasebuffer,
};

static Py_ssize_t seg_len(SegObject *self)
{
	if (seg_ready(self) < 0)
		return -1;
	return self->size;
}

static PySequenceMethods seg_as_seq = {.sq_length = (lenfunc)seg_len};

static PyObject *stat_dict(const struct shmq_stat *st);

static PyObject *seg_stat(SegObject *self, PyObject *unused)
{
	struct shmq_stat st;
	(void)unused;
	if (seg_ready(self) < 0)
		return NULL;
	int rc = shmq_seg_stat(self->seg, &st);
	if (rc < 0)
		return raise_code(rc, PyUnicode_AsUTF8(self->locator));
	return stat_dict(&st);
}

static PyObject *seg_enter(PyObject *self, PyObject *unused)
{
	(void)unused;
	if (seg_ready((SegObject *)self) < 0)
		return NULL;
	return Py_NewRef(self);
}

static PyObject *seg_exit(SegObject *self, PyObject *args)
{
	(void)args;
	PyObject *r = seg_close(self, NULL);
	if (!r)
		return NULL;
	Py_DECREF(r);
	Py_RETURN_FALSE;
}

static PyObject *seg_get_size(SegObject *s, void *c)
{
	(void)c;
	return seg_ready(s) < 0 ? NULL : PyLong_FromSsize_t(s->size);
}

static PyObject *seg_get_mapped(SegObject *s, void *c)
{
	(void)c;
	return seg_ready(s) < 0 ? NULL
	                        : PyLong_FromSize_t(shmq_seg_mapped_size(s->seg));
}

static PyObject *seg_get_fd(SegObject *s, void *c)
{
	(void)c;
	return seg_ready(s) < 0 ? NULL : PyLong_FromLong(shmq_seg_fd(s->seg));
}

static PyObject *seg_get_id(SegObject *s, void *c)
{
	(void)c;
	return seg_ready(s) < 0 ? NULL : PyLong_FromLong(shmq_seg_id(s->seg));
}

static PyObject *seg_get_address(SegObject *s, void *c)
{
	(void)c;
	return seg_ready(s) < 0 ? NULL : PyLong_FromVoidPtr(s->addr);
}

static PyObject *seg_get_locator(SegObject *s, void *c)
{
	(void)c;
	if (!s->locator) {
		PyErr_SetString(PyExc_ValueError, "Segment was not initialised");
		return NULL;
	}
	return Py_NewRef(s->locator);
}

static PyObject *seg_get_closed(SegObject *s, void *c)
{
	(void)c;
	return PyBool_FromLong(!s->seg);
}

static PyObject *seg_get_readonly(SegObject *s, void *c)
{
	(void)c;
	return PyBool_FromLong(s->readonly);
}

static PyObject *seg_repr(SegObject *s)
{
	if (!s->seg)
		return PyUnicode_FromFormat("<shmq.Segment %R closed>",
		                            s->locator ? s->locator : Py_None);
	return PyUnicode_FromFormat("<shmq.Segment %U size=%zd%s>", s->locator,
	                            s->size, s->readonly ? " readonly" : "");
}

static PyGetSetDef seg_getset[] = {
	{"size", (getter)seg_get_size, NULL, "Bytes, as created or found.", NULL},
	{"mapped_size", (getter)seg_get_mapped, NULL,
	 "Bytes mapped (the size rounded to the page).", NULL},
	{"fd", (getter)seg_get_fd, NULL,
	 "The fd of a POSIX object or memfd (the segment's: do not close "
	 "it); -1 for System V.", NULL},
	{"id", (getter)seg_get_id, NULL, "The System V shmid; -1 for others.",
	 NULL},
	{"address", (getter)seg_get_address, NULL,
	 "Where the segment is mapped in this process (an int).", NULL},
	{"locator", (getter)seg_get_locator, NULL,
	 "The canonical locator ('posix:cam0', 'sysv:key=0x0000007b').", NULL},
	{"closed", (getter)seg_get_closed, NULL, "True after close().", NULL},
	{"readonly", (getter)seg_get_readonly, NULL,
	 "True when attached read-only.", NULL},
	{NULL, NULL, NULL, NULL, NULL},
};

static PyMethodDef seg_methods[] = {
	{"close", (PyCFunction)seg_close, METH_NOARGS,
	 "close()\n--\n\nUnmaps the segment (the object stays: shmq.unlink() "
	 "removes its name). BufferError while views of it are alive."},
	{"stat", (PyCFunction)seg_stat, METH_NOARGS,
	 "stat() -> dict\n--\n\nThe segment's status, with the fields of "
	 "`shmq ls --json`."},
	{"__enter__", seg_enter, METH_NOARGS, NULL},
	{"__exit__", (PyCFunction)seg_exit, METH_VARARGS, NULL},
	{NULL, NULL, 0, NULL},
};

static PyTypeObject SegType = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "shmq.Segment",
	.tp_basicsize = sizeof(SegObject),
	.tp_dealloc = (destructor)seg_dealloc,
	.tp_repr = (reprfunc)seg_repr,
	.tp_as_sequence = &seg_as_seq,
	.tp_as_buffer = &seg_as_buffer,
	.tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
	.tp_doc = "Segment(locator, size=0, *, create=False, exist_ok=False, "
	          "mode=0o600, readonly=False, huge=None, any_owner=False)\n--\n\n"
	          "A shared memory segment, attached: a System V segment, a POSIX "
	          "object or a memfd, named by a locator ('posix:cam0', "
	          "'sysv:key=0x7b', 'memfd:fd=5').\n\n"
	          "create=True makes a new object of size bytes, exclusively "
	          "(ExistsError if the name is taken) unless exist_ok=True; "
	          "otherwise an existing object is opened (size: 0, or the least "
	          "size needed). mode applies exactly, whatever the umask. "
	          "huge: '2M' or '1G' huge pages (sysv, memfd). An object another "
	          "user owns is refused (OwnerError) unless any_owner=True.\n\n"
	          "The segment is a writable buffer: memoryview(seg), "
	          "numpy.frombuffer(seg, dtype) share its memory with no copy. "
	          "close() unmaps it (BufferError while such views are alive); "
	          "use it as a context manager.",
	.tp_weaklistoffset = offsetof(SegObject, weakrefs),
	.tp_methods = seg_methods,
	.tp_getset = seg_getset,
	.tp_init = (initproc)seg_init,
	.tp_new = PyType_GenericNew,
};

/* ---- Mutex, Semaphore, Event ----------------------------------------------------- */

typedef struct {
	PyObject_HEAD
	SegObject *seg; /* holds one export of it */
	void *obj;
	Py_ssize_t offset;
} SyncObject;

static PyTypeObject MutexType, SemType, EventType;

/* Places a 16-byte object at offset in seg. */
static int sync_place(SyncObject *self, PyObject *seg, Py_ssize_t offset)
{
	if (self->seg) {
		PyErr_SetString(PyExc_RuntimeError, "initialised once");
		return -1;
	}
	if (!PyObject_TypeCheck(seg, &SegType)) {
		PyErr_Format(PyExc_TypeError, "expected a shmq.Segment, not %.100s",
		             Py_TYPE(seg)->tp_name);
		return -1;
	}
	SegObject *s = (SegObject *)seg;
	if (seg_ready(s) < 0)
		return -1;
	if (s->readonly) {
		PyErr_SetString(PyExc_ValueError,
		                "the segment is attached read-only");
		return -1;
	}
	if (offset < 0 || offset % 8 || offset > s->size - 16) {
		PyErr_Format(PyExc_ValueError,
		             "offset %zd: must be a multiple of 8 with 16 bytes "
		             "from it inside the %zd-byte segment", offset, s->size);
		return -1;
	}
	self->seg = (SegObject *)Py_NewRef(seg);
	s->exports++;
	self->obj = s->addr + offset;
	self->offset = offset;
	return 0;
}

static void sync_dealloc(SyncObject *self)
{
	if (self->seg) {
		self->seg->exports--;
		Py_DECREF(self->seg);
	}
	Py_TYPE(self)->tp_free((PyObject *)self);
}

static int sync_ready(SyncObject *self)
{
	if (!self->seg) {
		PyErr_SetString(PyExc_ValueError, "not initialised");
		return -1;
	}
	return 0;
}

static PyObject *sync_fail(SyncObject *self, int rc)
{
	return raise_code(rc, PyUnicode_AsUTF8(self->seg->locator));
}

static PyObject *sync_repr(SyncObject *self)
{
	if (!self->seg)
		return PyUnicode_FromFormat("<%s uninitialised>",
		                            Py_TYPE(self)->tp_name);
	return PyUnicode_FromFormat("<%s in %U at offset %zd>",
	                            Py_TYPE(self)->tp_name, self->seg->locator,
	                            self->offset);
}

static PyObject *sync_get_offset(SyncObject *s, void *c)
{
	(void)c;
	return PyLong_FromSsize_t(s->offset);
}

static PyObject *sync_get_segment(SyncObject *s, void *c)
{
	(void)c;
	return Py_NewRef(s->seg ? (PyObject *)s->seg : Py_None);
}

static PyGetSetDef sync_getset[] = {
	{"offset", (getter)sync_get_offset, NULL, "Offset in the segment.", NULL},
	{"segment", (getter)sync_get_segment, NULL, "The Segment.", NULL},
	{NULL, NULL, NULL, NULL, NULL},
};

/* A blocking call on a sync object: try first, then sliced waits. */
static long sync_wait(SyncObject *self, PyObject *timeout, timed_fn fn,
                      void *arg, long (*try_fn)(void *))
{
	int64_t end;
	if (sync_ready(self) < 0 || deadline_of(timeout, &end) < 0)
		return E_SIGNAL;
	long rc = try_fn(arg);
	if (rc == -EAGAIN || rc == -EBUSY)
		rc = wait_sliced(fn, arg, end);
	return rc;
}

static long mutex_timed(void *m, const struct timespec *dl)
{
	return shmq_mutex_lock_timed(m, dl);
}

static long mutex_try(void *m)
{
	return shmq_mutex_try_lock(m);
}

static int mutex_init(SyncObject *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = {"segment", "offset", "init", NULL};
	PyObject *seg;
	Py_ssize_t off = 0;
	int init = 0, rc;
	if (!PyArg_ParseTupleAndKeywords(args, kw, "O|n$p", kwlist, &seg, &off,
	                                 &init) ||
	    sync_place(self, seg, off) < 0)
		return -1;
	if (init && (rc = shmq_mutex_init(self->obj)) < 0) {
		sync_fail(self, rc);
		return -1;
	}
	return 0;
}

static PyObject *mutex_lock_impl(SyncObject *self, PyObject *timeout)
{
	long rc = sync_wait(self, timeout, mutex_timed, self->obj, mutex_try);
	if (rc == E_SIGNAL)
		return NULL;
	if (rc < 0)
		return sync_fail(self, (int)rc);
	Py_RETURN_NONE;
}

static PyObject *mutex_lock(SyncObject *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = {"timeout", NULL};
	PyObject *timeout = Py_None;
	if (!PyArg_ParseTupleAndKeywords(args, kw, "|O", kwlist, &timeout))
		return NULL;
	return mutex_lock_impl(self, timeout);
}

static PyObject *mutex_try_lock(SyncObject *self, PyObject *unused)
{
	(void)unused;
	if (sync_ready(self) < 0)
		return NULL;
	int rc = shmq_mutex_try_lock(self->obj);
	if (rc < 0)
		return sync_fail(self, rc == -EBUSY ? -EAGAIN : rc);
	Py_RETURN_NONE;
}

static PyObject *mutex_unlock(SyncObject *self, PyObject *unused)
{
	(void)unused;
	if (sync_ready(self) < 0)
		return NULL;
	int rc = shmq_mutex_unlock(self->obj);
	if (rc < 0)
		return sync_fail(self, rc);
	Py_RETURN_NONE;
}

static PyObject *mutex_consistent(SyncObject *self, PyObject *unused)
{
	(void)unused;
	if (sync_ready(self) < 0)
		return NULL;
	int rc = shmq_mutex_consistent(self->obj);
	if (rc < 0)
		return sync_fail(self, rc);
	Py_RETURN_NONE;
}

static PyObject *mutex_enter(SyncObject *self, PyObject *unused)
{
	(void)unused;
	PyObject *r = mutex_lock_impl(self, Py_None);
	if (!r)
		return NULL;
	Py_DECREF(r);
	return Py_NewRef(self);
}

static PyObject *mutex_exit(SyncObject *self, PyObject *args)
{
	(void)args;
	PyObject *r = mutex_unlock(self, NULL);
	if (!r)
		return NULL;
	Py_DECREF(r);
	Py_RETURN_FALSE;
}

static PyMethodDef mutex_methods[] = {
	{"lock", METH_KW(mutex_lock), METH_VARARGS | METH_KEYWORDS,
	 "lock(timeout=None)\n--\n\nWaits for the lock (timeout: seconds, "
	 "TimeoutError). OwnerDeadError: the last holder died holding it and "
	 "the caller now holds it: repair the data, consistent(), unlock()."},
	{"try_lock", (PyCFunction)mutex_try_lock, METH_NOARGS,
	 "try_lock()\n--\n\nTakes the lock or raises BlockingIOError."},
	{"unlock", (PyCFunction)mutex_unlock, METH_NOARGS,
	 "unlock()\n--\n\nReleases it (AccessError: not the holder)."},
	{"consistent", (PyCFunction)mutex_consistent, METH_NOARGS,
	 "consistent()\n--\n\nAfter OwnerDeadError and the repair: marks the "
	 "mutex usable again."},
	{"__enter__", (PyCFunction)mutex_enter, METH_NOARGS, NULL},
	{"__exit__", (PyCFunction)mutex_exit, METH_VARARGS, NULL},
	{NULL, NULL, 0, NULL},
};

static PyTypeObject MutexType = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "shmq.Mutex",
	.tp_basicsize = sizeof(SyncObject),
	.tp_dealloc = (destructor)sync_dealloc,
	.tp_repr = (reprfunc)sync_repr,
	.tp_flags = Py_TPFLAGS_DEFAULT,
	.tp_doc = "Mutex(segment, offset=0, *, init=False)\n--\n\n"
	          "A mutex that survives a dead holder, in 16 bytes of a segment "
	          "at offset (a multiple of 8). One process creates it with "
	          "init=True before the others use it. `with m:` locks and "
	          "unlocks. The segment cannot close while the Mutex exists.",
	.tp_methods = mutex_methods,
	.tp_getset = sync_getset,
	.tp_init = (initproc)mutex_init,
	.tp_new = PyType_GenericNew,
};

static long sem_timed(void *s, const struct timespec *dl)
{
	return shmq_sem_wait_timed(s, dl);
}

static long sem_try(void *s)
{
	return shmq_sem_try_wait(s);
}

static int sem_init(SyncObject *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = {"segment", "offset", "value", NULL};
	PyObject *seg, *value = Py_None;
	Py_ssize_t off = 0;
	if (!PyArg_ParseTupleAndKeywords(args, kw, "O|n$O", kwlist, &seg, &off,
	                                 &value) ||
	    sync_place(self, seg, off) < 0)
		return -1;
	if (value != Py_None) {
		long v = PyLong_AsLong(value);
		if (v == -1 && PyErr_Occurred())
			return -1;
		if (v < 0 || v > INT32_MAX) {
			PyErr_SetString(PyExc_ValueError,
			                "value must be 0..2**31-1");
			return -1;
		}
		int rc = shmq_sem_init(self->obj, (uint32_t)v);
		if (rc < 0) {
			sync_fail(self, rc);
			return -1;
		}
	}
	return 0;
}

static PyObject *sem_post(SyncObject *self, PyObject *unused)
{
	(void)unused;
	if (sync_ready(self) < 0)
		return NULL;
	int rc = shmq_sem_post(self->obj);
	if (rc < 0)
		return sync_fail(self, rc);
	Py_RETURN_NONE;
}

static PyObject *sem_wait(SyncObject *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = {"timeout", NULL};
	PyObject *timeout = Py_None;
	if (!PyArg_ParseTupleAndKeywords(args, kw, "|O", kwlist, &timeout))
		return NULL;
	long rc = sync_wait(self, timeout, sem_timed, self->obj, sem_try);
	if (rc == E_SIGNAL)
		return NULL;
	if (rc < 0)
		return sync_fail(self, (int)rc);
	Py_RETURN_NONE;
}

static PyObject *sem_try_wait(SyncObject *self, PyObject *unused)
{
	(void)unused;
	if (sync_ready(self) < 0)
		return NULL;
	int rc = shmq_sem_try_wait(self->obj);
	if (rc < 0)
		return sync_fail(self, rc);
	Py_RETURN_NONE;
}

static PyObject *sem_get_value(SyncObject *self, void *c)
{
	(void)c;
	if (sync_ready(self) < 0)
		return NULL;
	int v = shmq_sem_value(self->obj);
	if (v < 0)
		return sync_fail(self, v);
	return PyLong_FromLong(v);
}

static PyMethodDef sem_methods[] = {
	{"post", (PyCFunction)sem_post, METH_NOARGS,
	 "post()\n--\n\nAdds one (OverflowError-like InvalidError at 2**31-1)."},
	{"wait", METH_KW(sem_wait), METH_VARARGS | METH_KEYWORDS,
	 "wait(timeout=None)\n--\n\nTakes one, waiting while it is 0 "
	 "(TimeoutError after timeout seconds)."},
	{"try_wait", (PyCFunction)sem_try_wait, METH_NOARGS,
	 "try_wait()\n--\n\nTakes one or raises BlockingIOError."},
	{NULL, NULL, 0, NULL},
};

static PyGetSetDef sem_getset[] = {
	{"value", (getter)sem_get_value, NULL, "The count now.", NULL},
	{"offset", (getter)sync_get_offset, NULL, "Offset in the segment.", NULL},
	{"segment", (getter)sync_get_segment, NULL, "The Segment.", NULL},
	{NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject SemType = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "shmq.Semaphore",
	.tp_basicsize = sizeof(SyncObject),
	.tp_dealloc = (destructor)sync_dealloc,
	.tp_repr = (reprfunc)sync_repr,
	.tp_flags = Py_TPFLAGS_DEFAULT,
	.tp_doc = "Semaphore(segment, offset=0, *, value=None)\n--\n\n"
	          "A counting semaphore in 16 bytes of a segment at offset (a "
	          "multiple of 8). One process creates it with value=N (0.."
	          "2**31-1); the others attach with value=None.",
	.tp_methods = sem_methods,
	.tp_getset = sem_getset,
	.tp_init = (initproc)sem_init,
	.tp_new = PyType_GenericNew,
};

struct event_arg {
	void *e;
	uint32_t seen;
};

static long event_timed(void *a, const struct timespec *dl)
{
	struct event_arg *x = a;
	return shmq_event_wait_timed(x->e, x->seen, dl);
}

static long event_try(void *a)
{
	struct event_arg *x = a;
	return shmq_event_seq(x->e) != x->seen ? 0 : -EAGAIN;
}

static int event_init(SyncObject *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = {"segment", "offset", "init", NULL};
	PyObject *seg;
	Py_ssize_t off = 0;
	int init = 0, rc;
	if (!PyArg_ParseTupleAndKeywords(args, kw, "O|n$p", kwlist, &seg, &off,
	                                 &init) ||
	    sync_place(self, seg, off) < 0)
		return -1;
	if (init && (rc = shmq_event_init(self->obj)) < 0) {
		sync_fail(self, rc);
		return -1;
	}
	return 0;
}

static PyObject *event_signal(SyncObject *self, PyObject *unused)
{
	(void)unused;
	if (sync_ready(self) < 0)
		return NULL;
	int rc = shmq_event_signal(self->obj);
	if (rc < 0)
		return sync_fail(self, rc);
	Py_RETURN_NONE;
}

static PyObject *event_wait(SyncObject *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = {"seen", "timeout", NULL};
	PyObject *timeout = Py_None;
	unsigned long seen;
	if (!PyArg_ParseTupleAndKeywords(args, kw, "k|O", kwlist, &seen,
	                                 &timeout) ||
	    sync_ready(self) < 0)
		return NULL;
	if (seen > UINT32_MAX) {
		PyErr_SetString(PyExc_ValueError, "seen must be 0..2**32-1");
		return NULL;
	}
	struct event_arg a = {self->obj, (uint32_t)seen};
	long rc = sync_wait(self, timeout, event_timed, &a, event_try);
	if (rc == E_SIGNAL)
		return NULL;
	if (rc < 0)
		return sync_fail(self, (int)rc);
	return PyLong_FromUnsignedLong(shmq_event_seq(self->obj));
}

static PyObject *event_get_seq(SyncObject *self, void *c)
{
	(void)c;
	if (sync_ready(self) < 0)
		return NULL;
	return PyLong_FromUnsignedLong(shmq_event_seq(self->obj));
}

static PyMethodDef event_methods[] = {
	{"signal", (PyCFunction)event_signal, METH_NOARGS,
	 "signal()\n--\n\nBumps the sequence number and wakes every waiter."},
	{"wait", METH_KW(event_wait), METH_VARARGS | METH_KEYWORDS,
	 "wait(seen, timeout=None) -> int\n--\n\nWaits until the sequence "
	 "number differs from seen (read .seq before checking your "
	 "condition); returns the new one. TimeoutError after timeout seconds."},
	{NULL, NULL, 0, NULL},
};

static PyGetSetDef event_getset[] = {
	{"seq", (getter)event_get_seq, NULL, "The sequence number now.", NULL},
	{"offset", (getter)sync_get_offset, NULL, "Offset in the segment.", NULL},
	{"segment", (getter)sync_get_segment, NULL, "The Segment.", NULL},
	{NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject EventType = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "shmq.Event",
	.tp_basicsize = sizeof(SyncObject),
	.tp_dealloc = (destructor)sync_dealloc,
	.tp_repr = (reprfunc)sync_repr,
	.tp_flags = Py_TPFLAGS_DEFAULT,
	.tp_doc = "Event(segment, offset=0, *, init=False)\n--\n\n"
	          "An event in 16 bytes of a segment at offset (a multiple of 8): "
	          "a sequence number that waiters wait to see change. One "
	          "process creates it with init=True.",
	.tp_methods = event_methods,
	.tp_getset = event_getset,
	.tp_init = (initproc)event_init,
	.tp_new = PyType_GenericNew,
};

/* ---- Channel ------------------------------------------------------------------------ */

struct ViewObject;

typedef struct {
	PyObject_HEAD
	shmq_chan *ch;
	PyObject *name;         /* str, as given */
	int role, kind;
	unsigned long gen;      /* fork_gen when opened */
	int inuse;              /* a call runs with the GIL released */
	struct ViewObject *view;/* the open reserve or peek (borrowed) */
	PyObject *waiting;      /* the async wait's state tuple, or NULL */
	char *scratch;          /* recv() copies through it */
	size_t scratch_len;
	PyObject *weakrefs;
} ChanObject;

typedef struct ViewObject {
	PyObject_HEAD
	ChanObject *chan; /* strong; NULL once the view ended */
	char *ptr;
	Py_ssize_t len;
	int writable;     /* a reserve (else a peek) */
	Py_ssize_t exports;
} ViewObject;

static PyTypeObject ChanType, ViewType;

static const char *const kind_names[] = {"spsc", "mpmc", "broadcast"};
static const char *const policy_names[] = {"block", "overwrite"};

static PyObject *unsupported; /* io.UnsupportedOperation */

static const char *chan_name(ChanObject *c)
{
	return PyUnicode_AsUTF8(c->name);
}

/* The handle may be used now by this thread, in this role (0: any). */
static int chan_usable(ChanObject *c, int role)
{
	if (!c->ch) {
		PyErr_SetString(PyExc_ValueError, "operation on a closed channel");
		return -1;
	}
	if (c->gen != fork_gen) {
		PyErr_SetString(PyExc_RuntimeError,
		                "this channel was opened by the parent process: a "
		                "fork child opens its own");
		return -1;
	}
	if (c->inuse) {
		PyErr_SetString(PyExc_RuntimeError,
		                "the channel is in use by another thread (a "
		                "handle serves one thread at a time: open one per "
		                "thread)");
		return -1;
	}
	if (role && c->role != role) {
		PyErr_Format(unsupported, "%s: opened as %s: it does not %s",
		             chan_name(c),
		             c->role == SHMQ_READER ? "reader" : "writer",
		             role == SHMQ_READER ? "receive" : "send");
		return -1;
	}
	return 0;
}

/* Raises for a channel call's code, with the dead peer's pid or the lost
 * count where they apply. */
static PyObject *chan_fail(ChanObject *c, long code, size_t size)
{
	long pid = 0;
	unsigned long long lost = 0;
	if (code == E_SIGNAL)
		return NULL;
	if (code == -EPIPE) {
		PyErr_Format(PyExc_EOFError, "%s: end of stream: every writer "
		             "closed the channel", chan_name(c));
		return NULL;
	}
	if (code == SHMQ_EPEERDEAD && c->ch) {
		struct shmq_chan_info in;
		if (shmq_chan_info(c->ch, &in) == 0)
			pid = in.last_dead_pid;
	}
	if (code == SHMQ_ELOST && c->ch)
		lost = shmq_chan_lost(c->ch);
	return raise_code_ex((int)code, chan_name(c), size, pid, lost, 1);
}

static int parse_choice(PyObject *v, const char *what,
                        const char *const *names, int n, int *out)
{
	const char *s = v && PyUnicode_Check(v) ? PyUnicode_AsUTF8(v) : NULL;
	for (int i = 0; s && i < n; i++)
		if (!strcmp(s, names[i])) {
			*out = i;
			return 0;
		}
	if (!PyErr_Occurred())
		PyErr_Format(PyExc_ValueError, "%s must be one of %s%s%s%s%s",
		             what, names[0], n > 1 ? ", " : "",
		             n > 1 ? names[1] : "", n > 2 ? ", " : "",
		             n > 2 ? names[2] : "");
	return -1;
}

static int chan_init(ChanObject *self, PyObject *args, PyObject *kw)
{
	static const char *const roles[] = {"writer", "reader"};
	static char *kwlist[] = {"name", "role", "create", "exist_ok", "kind",
	                         "capacity", "msg_size", "policy", "mode",
	                         "persist", "any_owner", "spin_ns",
	                         "plain_fences", NULL};
	PyObject *name, *role_o = NULL, *kind_o = NULL, *policy_o = NULL;
	int create = 0, exist_ok = 0, mode = 0600, persist = 0, any = 0;
	int plain = 0;
	int role = 1, kind = 0, policy = 0;
	Py_ssize_t capacity = 0, msg_size = 0;
	long long spin_ns = -1;
	struct shmq_chan_opts o = {0};
	shmq_chan *ch;

	if (self->ch || self->name) {
		PyErr_SetString(PyExc_RuntimeError, "Channel is initialised once");
		return -1;
	}
	if (!PyArg_ParseTupleAndKeywords(args, kw, "U|O$ppOnnOippLp", kwlist,
	                                 &name, &role_o, &create, &exist_ok,
	                                 &kind_o, &capacity, &msg_size,
	                                 &policy_o, &mode, &persist, &any,
	                                 &spin_ns, &plain))
		return -1;
	if ((role_o && parse_choice(role_o, "role", roles, 2, &role) < 0) ||
	    (kind_o && parse_choice(kind_o, "kind", kind_names, 3, &kind) < 0) ||
	    (policy_o &&
	     parse_choice(policy_o, "policy", policy_names, 2, &policy) < 0) ||
	    mode_of(mode, &o.mode) < 0)
		return -1;
	if (capacity < 0 || msg_size < 0) {
		PyErr_SetString(PyExc_ValueError,
		                "capacity and msg_size must be >= 0 (0: default)");
		return -1;
	}
	if (spin_ns < -1) {
		PyErr_SetString(PyExc_ValueError,
		                "spin_ns must be >= 0, or -1 for the default");
		return -1;
	}
	const char *loc = PyUnicode_AsUTF8(name);
	if (!loc)
		return -1;
	o.kind = SHMQ_CHAN_SPSC + kind;
	o.capacity = (size_t)capacity;
	o.msg_size = (size_t)msg_size;
	o.policy = policy;
	o.spin_ns = spin_ns;
	o.flags = (exist_ok ? SHMQ_OPEN_OK : 0) | (any ? SHMQ_ANY_OWNER : 0) |
	          (persist ? SHMQ_CHAN_PERSIST : 0) |
	          (plain ? SHMQ_CHAN_PLAIN_FENCES : 0);
	role = role ? SHMQ_READER : SHMQ_WRITER;
	int rc = create ? shmq_chan_create(&ch, loc, role, &o)
	                : shmq_chan_open(&ch, loc, role, &o);
	if (rc < 0) {
		raise_code_ex(rc, loc, (size_t)capacity, 0, 0, 0);
		return -1;
	}
	struct shmq_chan_info in;
	if ((rc = shmq_chan_info(ch, &in)) < 0) {
		shmq_chan_close(ch);
		raise_code(rc, loc);
		return -1;
	}
	self->ch = ch;
	self->name = Py_NewRef(name);
	self->role = role;
	self->kind = in.kind;
	self->gen = fork_gen;
	return 0;
}

static void view_end(struct ViewObject *v, int abandon);

/* Lets go of the handle. A fork child's copy is left alone: closing it
 * would detach its parent. */
static int chan_close_handle(ChanObject *c)
{
	int rc = 0;
	if (c->view)
		view_end(c->view, 1);
	if (c->ch && c->gen == fork_gen)
		rc = shmq_chan_close(c->ch);
	c->ch = NULL;
	PyMem_Free(c->scratch);
	c->scratch = NULL;
	return rc;
}

static PyObject *async_cancel(ChanObject *c);

static PyObject *chan_close(ChanObject *self, PyObject *unused)
{
	(void)unused;
	if (!self->ch)
		Py_RETURN_NONE;
	if (self->inuse) {
		PyErr_SetString(PyExc_RuntimeError,
		                "the channel is in use by another thread");
		return NULL;
	}
	if (self->view && self->view->exports) {
		PyErr_Format(PyExc_BufferError,
		             "cannot close %U: %zd view(s) of its open %s are still "
		             "alive; delete them first", self->name,
		             self->view->exports,
		             self->view->writable ? "reserve" : "peek");
		return NULL;
	}
	if (self->waiting && !async_cancel(self))
		return NULL;
	int rc = chan_close_handle(self);
	if (rc < 0)
		return raise_code(rc, chan_name(self));
	Py_RETURN_NONE;
}

static void chan_dealloc(ChanObject *self)
{
	if (self->weakrefs)
		PyObject_ClearWeakRefs((PyObject *)self);
	/* an async wait holds a reference: none is left here */
	chan_close_handle(self);
	Py_XDECREF(self->name);
	Py_TYPE(self)->tp_free((PyObject *)self);
}

/* ---- send ---- */

struct send_arg {
	shmq_chan *ch;
	const void *buf;
	size_t len;
};

static long send_timed(void *a, const struct timespec *dl)
{
	struct send_arg *x = a;
	return shmq_chan_send_timed(x->ch, x->buf, x->len, dl);
}

/* A blocking call: the try_ result rc; on -EAGAIN, sliced waits until end
 * with the handle marked in use. */
static long chan_wait(ChanObject *c, long rc, timed_fn fn, void *arg,
                      int64_t end)
{
	if (rc != -EAGAIN)
		return rc;
	c->inuse = 1;
	rc = wait_sliced(fn, arg, end);
	c->inuse = 0;
	return rc;
}

static PyObject *chan_send_impl(ChanObject *self, PyObject *data,
                                PyObject *timeout, int try_)
{
	Py_buffer pb;
	int64_t end = 0;
	if (chan_usable(self, SHMQ_WRITER) < 0 ||
	    (!try_ && deadline_of(timeout, &end) < 0) ||
	    PyObject_GetBuffer(data, &pb, PyBUF_SIMPLE) < 0)
		return NULL;
	struct send_arg a = {self->ch, pb.buf, (size_t)pb.len};
	long rc = shmq_chan_try_send(self->ch, pb.buf, (size_t)pb.len);
	if (!try_)
		rc = chan_wait(self, rc, send_timed, &a, end);
	PyBuffer_Release(&pb);
	if (rc < 0)
		return chan_fail(self, rc, a.len);
	Py_RETURN_NONE;
}

static PyObject *chan_send(ChanObject *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = {"data", "timeout", NULL};
	PyObject *data, *timeout = Py_None;
	if (!PyArg_ParseTupleAndKeywords(args, kw, "O|O", kwlist, &data, &timeout))
		return NULL;
	return chan_send_impl(self, data, timeout, 0);
}

static PyObject *chan_try_send(ChanObject *self, PyObject *data)
{
	return chan_send_impl(self, data, NULL, 1);
}

/* ---- recv ---- */

struct recv_arg {
	shmq_chan *ch;
	void *buf;
	size_t len;
};

static long recv_timed(void *a, const struct timespec *dl)
{
	struct recv_arg *x = a;
	return shmq_chan_recv_timed(x->ch, x->buf, x->len, dl);
}

static long recv_into_raw(ChanObject *c, void *buf, size_t len, int try_,
                          int64_t end)
{
	struct recv_arg a = {c->ch, buf, len};
	long rc = shmq_chan_try_recv(c->ch, buf, len);
	return try_ ? rc : chan_wait(c, rc, recv_timed, &a, end);
}

/*
 * recv() -> bytes. The message comes through a buffer of the handle (the
 * copy out of the ring runs inside the library, under its SIGBUS guard)
 * and is copied into its bytes: first a scratch of up to SCRATCH_MAX, then,
 * for a larger message, one of the channel's largest size, kept for the
 * next (a fresh bytes of that size each time costs an mmap and its page
 * faults: 70x slower at 1 MiB).
 */
static PyObject *chan_recv_impl(ChanObject *self, PyObject *timeout, int try_)
{
	int64_t end = 0;
	if (chan_usable(self, SHMQ_READER) < 0 ||
	    (!try_ && deadline_of(timeout, &end) < 0))
		return NULL;
	size_t max = shmq_chan_max_msg(self->ch);
	if (!self->scratch) {
		self->scratch_len = max < SCRATCH_MAX ? max : SCRATCH_MAX;
		if (!(self->scratch = PyMem_Malloc(self->scratch_len ? self->scratch_len : 1)))
			return PyErr_NoMemory();
	}
	long n = recv_into_raw(self, self->scratch, self->scratch_len, try_, end);
	if (n == -EMSGSIZE && max > self->scratch_len) {
		char *big = PyMem_Realloc(self->scratch, max);
		if (!big)
			return PyErr_NoMemory();
		self->scratch = big;
		self->scratch_len = max;
		n = recv_into_raw(self, self->scratch, max, try_, end);
	}
	if (n < 0)
		return chan_fail(self, n, self->scratch_len);
	return PyBytes_FromStringAndSize(self->scratch, n);
}

static PyObject *chan_recv(ChanObject *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = {"timeout", NULL};
	PyObject *timeout = Py_None;
	if (!PyArg_ParseTupleAndKeywords(args, kw, "|O", kwlist, &timeout))
		return NULL;
	return chan_recv_impl(self, timeout, 0);
}

static PyObject *chan_try_recv(ChanObject *self, PyObject *unused)
{
	(void)unused;
	return chan_recv_impl(self, NULL, 1);
}

static PyObject *chan_recv_into_impl(ChanObject *self, PyObject *buffer,
                                     PyObject *timeout, int try_)
{
	Py_buffer pb;
	int64_t end = 0;
	if (chan_usable(self, SHMQ_READER) < 0 ||
	    (!try_ && deadline_of(timeout, &end) < 0) ||
	    !PyArg_Parse(buffer, "w*", &pb)) /* TypeError, as socket.recv_into */
		return NULL;
	long n = recv_into_raw(self, pb.buf, (size_t)pb.len, try_, end);
	PyBuffer_Release(&pb);
	if (n == -EMSGSIZE) /* the buffer is too small: say it as E2BIG does */
		return raise_code_ex(-E2BIG, chan_name(self), (size_t)pb.len, 0, 0, 1);
	if (n < 0)
		return chan_fail(self, n, (size_t)pb.len);
	return PyLong_FromLong(n);
}

static PyObject *chan_recv_into(ChanObject *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = {"buffer", "timeout", NULL};
	PyObject *buffer, *timeout = Py_None;
	if (!PyArg_ParseTupleAndKeywords(args, kw, "O|O", kwlist, &buffer,
	                                 &timeout))
		return NULL;
	return chan_recv_into_impl(self, buffer, timeout, 0);
}

static PyObject *chan_try_recv_into(ChanObject *self, PyObject *buffer)
{
	return chan_recv_into_impl(self, buffer, NULL, 1);
}

/* ---- reserve, peek: views ---- */

struct zc_arg {
	shmq_chan *ch;
	size_t len;
	void *ptr;
};

static long reserve_timed(void *a, const struct timespec *dl)
{
	struct zc_arg *x = a;
	return shmq_chan_reserve_timed(x->ch, x->len, &x->ptr, dl);
}

static long peek_timed(void *a, const struct timespec *dl)
{
	struct zc_arg *x = a;
	const void *p;
	long n = shmq_chan_peek_timed(x->ch, &p, dl);
	x->ptr = (void *)p;
	return n;
}

static PyObject *view_new(ChanObject *c, void *ptr, size_t len, int writable)
{
	ViewObject *v = PyObject_New(ViewObject, &ViewType);
	if (!v)
		return NULL;
	v->chan = (ChanObject *)Py_NewRef(c);
	v->ptr = ptr;
	v->len = (Py_ssize_t)len;
	v->writable = writable;
	v->exports = 0;
	c->view = v;
	return (PyObject *)v;
}

static PyObject *chan_zc_impl(ChanObject *self, PyObject *n_o,
                              PyObject *timeout, int try_, int writer)
{
	int64_t end = 0;
	struct zc_arg a = {0};
	long rc;
	if (chan_usable(self, writer ? SHMQ_WRITER : SHMQ_READER) < 0 ||
	    (!try_ && deadline_of(timeout, &end) < 0))
		return NULL;
	if (writer) {
		Py_ssize_t n = PyNumber_AsSsize_t(n_o, PyExc_OverflowError);
		if (n == -1 && PyErr_Occurred())
			return NULL;
		if (n < 0) {
			PyErr_SetString(PyExc_ValueError, "reserve size must be >= 0");
			return NULL;
		}
		a.ch = self->ch;
		a.len = (size_t)n;
		rc = shmq_chan_try_reserve(self->ch, a.len, &a.ptr);
		if (!try_)
			rc = chan_wait(self, rc, reserve_timed, &a, end);
		if (rc < 0)
			return chan_fail(self, rc, a.len);
		return view_new(self, a.ptr, a.len, 1);
	}
	const void *p;
	a.ch = self->ch;
	rc = shmq_chan_try_peek(self->ch, &p);
	a.ptr = (void *)p;
	if (!try_)
		rc = chan_wait(self, rc, peek_timed, &a, end);
	if (rc < 0)
		return chan_fail(self, rc, 0);
	return view_new(self, a.ptr, (size_t)rc, 0);
}

static PyObject *chan_reserve(ChanObject *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = {"size", "timeout", NULL};
	PyObject *n, *timeout = Py_None;
	if (!PyArg_ParseTupleAndKeywords(args, kw, "O|O", kwlist, &n, &timeout))
		return NULL;
	return chan_zc_impl(self, n, timeout, 0, 1);
}

static PyObject *chan_try_reserve(ChanObject *self, PyObject *n)
{
	return chan_zc_impl(self, n, NULL, 1, 1);
}

static PyObject *chan_peek(ChanObject *self, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = {"timeout", NULL};
	PyObject *timeout = Py_None;
	if (!PyArg_ParseTupleAndKeywords(args, kw, "|O", kwlist, &timeout))
		return NULL;
	return chan_zc_impl(self, NULL, timeout, 0, 0);
}

static PyObject *chan_try_peek(ChanObject *self, PyObject *unused)
{
	(void)unused;
	return chan_zc_impl(self, NULL, NULL, 1, 0);
}

/* Ends a view: commit (len bytes) or release; abandon: an exception left
 * the with block, or the handle closes (a reserve is given back: readers
 * never see it). Returns the library's code. */
static int view_finish(ViewObject *v, int abandon, size_t len)
{
	ChanObject *c = v->chan;
	int rc = 0;
	if (c->ch && c->gen == fork_gen)
		rc = !v->writable ? (int)shmq_chan_release(c->ch)
		     : abandon    ? shmq_chan_abandon(c->ch)
		                  : shmq_chan_commit(c->ch, len);
	c->view = NULL;
	v->chan = NULL;
	v->ptr = NULL;
	v->len = 0;
	Py_DECREF(c);
	return rc;
}

static void view_end(ViewObject *v, int abandon)
{
	if (v->chan)
		view_finish(v, abandon, (size_t)v->len);
}

static int view_open(ViewObject *v)
{
	if (!v->chan) {
		PyErr_SetString(PyExc_ValueError,
		                "the message view was released (its with block "
		                "ended, or commit/release was called): the ring "
		                "memory is no longer yours");
		return -1;
	}
	return 0;
}

/* Ends the view unless an export of it is alive: then BufferError, and
 * the view stays open (the memory stays the caller's). */
static PyObject *view_end_checked(ViewObject *v, int abandon, size_t len)
{
	if (view_open(v) < 0)
		return NULL;
	if (v->exports) {
		PyErr_Format(PyExc_BufferError,
		             "cannot %s: %zd view(s) of the message (memoryview, "
		             "numpy array) are still alive; delete them first",
		             v->writable ? "commit" : "release", v->exports);
		return NULL;
	}
	ChanObject *c = (ChanObject *)Py_NewRef(v->chan);
	int rc = view_finish(v, abandon, len);
	PyObject *r = rc < 0 ? chan_fail(c, rc, len) : Py_NewRef(Py_None);
	Py_DECREF(c);
	return r;
}

static PyObject *view_commit(ViewObject *v, PyObject *args)
{
	Py_ssize_t n = -1;
	if (!PyArg_ParseTuple(args, "|n", &n) || view_open(v) < 0)
		return NULL;
	if (!v->writable) {
		PyErr_SetString(PyExc_TypeError,
		                "a peek view is released, not committed");
		return NULL;
	}
	if (n == -1)
		n = v->len;
	if (n < 0 || n > v->len) {
		PyErr_Format(PyExc_ValueError, "commit: 0..%zd bytes", v->len);
		return NULL;
	}
	return view_end_checked(v, 0, (size_t)n);
}

static PyObject *view_release(ViewObject *v, PyObject *unused)
{
	(void)unused;
	if (view_open(v) < 0)
		return NULL;
	if (v->writable) {
		PyErr_SetString(PyExc_TypeError,
		                "a reserve view is committed, not released");
		return NULL;
	}
	return view_end_checked(v, 0, 0);
}

static PyObject *view_enter(ViewObject *v, PyObject *unused)
{
	(void)unused;
	if (view_open(v) < 0)
		return NULL;
	return Py_NewRef(v);
}

static PyObject *view_exit(ViewObject *v, PyObject *args)
{
	PyObject *type = Py_None, *val, *tb;
	if (!PyArg_ParseTuple(args, "|OOO", &type, &val, &tb))
		return NULL;
	if (!v->chan) /* committed or released inside the block */
		Py_RETURN_FALSE;
	PyObject *r = view_end_checked(v, type != Py_None, (size_t)v->len);
	if (!r)
		return NULL;
	Py_DECREF(r);
	Py_RETURN_FALSE;
}

static void view_dealloc(ViewObject *v)
{
	view_end(v, 1);
	PyObject_Free(v);
}

static int view_getbuffer(ViewObject *v, Py_buffer *b, int flags)
{
	if (view_open(v) < 0) {
		b->obj = NULL;
		return -1;
	}
	if (PyBuffer_FillInfo(b, (PyObject *)v, v->ptr, v->len, !v->writable,
	                      flags) < 0)
		return -1;
	v->exports++;
	return 0;
}

static void view_releasebuffer(ViewObject *v, Py_buffer *b)
{
	(void)b;
	v->exports--;
}

static PyBufferProcs view_as_buffer = {
	(getbufferproc)view_getbuffer,
	(releasebufferproc)view_releasebuffer,
};

static Py_ssize_t view_len(ViewObject *v)
{
	return view_open(v) < 0 ? -1 : v->len;
}

/* Releases a memoryview made for one access, keeping the access's own
 * error if it failed. -1 if the release failed (an export of it lives). */
static int mv_done(PyObject *mv)
{
	PyObject *t, *v, *tb;
	PyErr_Fetch(&t, &v, &tb);
	PyObject *x = PyObject_CallMethod(mv, "release", NULL);
	Py_DECREF(mv);
	if (!x) {
		Py_XDECREF(t);
		Py_XDECREF(v);
		Py_XDECREF(tb);
		return -1;
	}
	Py_DECREF(x);
	PyErr_Restore(t, v, tb);
	return 0;
}

/* Indexing goes through a memoryview made and released here, so nothing
 * that points into the ring outlives the call: a slice comes back as
 * bytes. */
static PyObject *view_subscript(ViewObject *v, PyObject *key)
{
	PyObject *mv = PyMemoryView_FromObject((PyObject *)v), *r;
	if (!mv)
		return NULL;
	r = PyObject_GetItem(mv, key);
	if (r && PyMemoryView_Check(r)) {
		PyObject *b = PyBytes_FromObject(r);
		if (mv_done(r) < 0)
			Py_CLEAR(b);
		r = b;
	}
	if (mv_done(mv) < 0)
		Py_CLEAR(r);
	return r;
}

static int view_ass_subscript(ViewObject *v, PyObject *key, PyObject *val)
{
	if (!val) {
		PyErr_SetString(PyExc_TypeError, "cannot delete from a message view");
		return -1;
	}
	PyObject *mv = PyMemoryView_FromObject((PyObject *)v);
	if (!mv)
		return -1;
	int rc = PyObject_SetItem(mv, key, val);
	return mv_done(mv) < 0 ? -1 : rc;
}

static PyMappingMethods view_as_mapping = {
	(lenfunc)view_len,
	(binaryfunc)view_subscript,
	(objobjargproc)view_ass_subscript,
};

static PyObject *view_tobytes(ViewObject *v, PyObject *unused)
{
	(void)unused;
	if (view_open(v) < 0)
		return NULL;
	return PyBytes_FromStringAndSize(v->ptr, v->len);
}

static PyObject *view_get_readonly(ViewObject *v, void *c)
{
	(void)c;
	return PyBool_FromLong(!v->writable);
}

static PyObject *view_get_released(ViewObject *v, void *c)
{
	(void)c;
	return PyBool_FromLong(!v->chan);
}

static PyObject *view_repr(ViewObject *v)
{
	if (!v->chan)
		return PyUnicode_FromString("<shmq.View released>");
	return PyUnicode_FromFormat("<shmq.View %s of %zd bytes in %U>",
	                            v->writable ? "reserve" : "peek", v->len,
	                            v->chan->name);
}

static PyMethodDef view_methods[] = {
	{"commit", (PyCFunction)view_commit, METH_VARARGS,
	 "commit(size=None)\n--\n\nReserve views: publishes the first size "
	 "bytes (all by default) as one message and ends the view."},
	{"release", (PyCFunction)view_release, METH_NOARGS,
	 "release()\n--\n\nPeek views: frees the message and ends the view. A "
	 "broadcast reader gets LostError if the writer overwrote it meanwhile "
	 "(what was read is garbage)."},
	{"tobytes", (PyCFunction)view_tobytes, METH_NOARGS,
	 "tobytes() -> bytes\n--\n\nA copy of the message."},
	{"__enter__", (PyCFunction)view_enter, METH_NOARGS, NULL},
	{"__exit__", (PyCFunction)view_exit, METH_VARARGS, NULL},
	{NULL, NULL, 0, NULL},
};

static PyGetSetDef view_getset[] = {
	{"readonly", (getter)view_get_readonly, NULL,
	 "True for a peek view.", NULL},
	{"released", (getter)view_get_released, NULL,
	 "True once the view ended: every access raises ValueError.", NULL},
	{NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject ViewType = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "shmq.View",
	.tp_basicsize = sizeof(ViewObject),
	.tp_dealloc = (destructor)view_dealloc,
	.tp_repr = (reprfunc)view_repr,
	.tp_as_mapping = &view_as_mapping,
	.tp_as_buffer = &view_as_buffer,
	.tp_flags = Py_TPFLAGS_DEFAULT,
	.tp_doc = "A message in place in the ring, from Channel.reserve() "
	          "(writable) or Channel.peek() (read-only). It is a buffer "
	          "(memoryview(v), numpy.frombuffer(v), bytes(v)) and indexes "
	          "like one (v[0], v[2:4] -> bytes, v[:] = data).\n\n"
	          "Use it as a context manager: on a normal exit a reserve is "
	          "committed and a peek released; on an exception a reserve is "
	          "abandoned (readers never see it). "
	          "After that every access raises ValueError. A memoryview or "
	          "numpy array made from it must be deleted before the end: "
	          "else the end raises BufferError and the view stays open.",
	.tp_methods = view_methods,
	.tp_getset = view_getset,
};

/* ---- the rest of Channel ---- */

static PyObject *chan_fileno(ChanObject *self, PyObject *unused)
{
	(void)unused;
	if (chan_usable(self, 0) < 0)
		return NULL;
	int fd = shmq_chan_fd(self->ch);
	if (fd < 0)
		return chan_fail(self, fd, 0);
	return PyLong_FromLong(fd);
}

static PyObject *chan_info_dict(const struct shmq_chan_info *in);

static PyObject *chan_info(ChanObject *self, PyObject *unused)
{
	struct shmq_chan_info in;
	(void)unused;
	if (chan_usable(self, 0) < 0)
		return NULL;
	int rc = shmq_chan_info(self->ch, &in);
	if (rc < 0)
		return chan_fail(self, rc, 0);
	return chan_info_dict(&in);
}

static PyObject *chan_iternext(ChanObject *self)
{
	PyObject *m = chan_recv_impl(self, NULL, 0);
	if (!m && PyErr_ExceptionMatches(PyExc_EOFError))
		PyErr_Clear(); /* the end of the stream ends the iteration */
	return m;
}

static PyObject *chan_enter(ChanObject *self, PyObject *unused)
{
	(void)unused;
	if (chan_usable(self, 0) < 0)
		return NULL;
	return Py_NewRef(self);
}

static PyObject *chan_exit(ChanObject *self, PyObject *args)
{
	(void)args;
	PyObject *r = chan_close(self, NULL);
	if (!r)
		return NULL;
	Py_DECREF(r);
	Py_RETURN_FALSE;
}

static PyObject *chan_get_name(ChanObject *c, void *x)
{
	(void)x;
	return Py_NewRef(c->name ? c->name : Py_None);
}

static PyObject *chan_get_role(ChanObject *c, void *x)
{
	(void)x;
	return PyUnicode_FromString(c->role == SHMQ_READER ? "reader" : "writer");
}

static PyObject *chan_get_kind(ChanObject *c, void *x)
{
	(void)x;
	if (c->kind < SHMQ_CHAN_SPSC || c->kind > SHMQ_CHAN_BROADCAST)
		Py_RETURN_NONE;
	return PyUnicode_FromString(kind_names[c->kind - SHMQ_CHAN_SPSC]);
}

static PyObject *chan_get_max_msg(ChanObject *c, void *x)
{
	(void)x;
	if (chan_usable(c, 0) < 0)
		return NULL;
	return PyLong_FromSize_t(shmq_chan_max_msg(c->ch));
}

static PyObject *chan_get_lost(ChanObject *c, void *x)
{
	(void)x;
	if (chan_usable(c, 0) < 0)
		return NULL;
	return PyLong_FromUnsignedLongLong(shmq_chan_lost(c->ch));
}

static PyObject *chan_get_closed(ChanObject *c, void *x)
{
	(void)x;
	return PyBool_FromLong(!c->ch);
}

static PyObject *chan_repr(ChanObject *c)
{
	if (!c->name)
		return PyUnicode_FromString("<shmq.Channel uninitialised>");
	return PyUnicode_FromFormat("<shmq.Channel %U %s %s%s>", c->name,
	                            c->kind >= 1 && c->kind <= 3
	                                    ? kind_names[c->kind - 1] : "?",
	                            c->role == SHMQ_READER ? "reader" : "writer",
	                            c->ch ? "" : " closed");
}

/* ---- asyncio: loop.add_reader on the channel's fd ---- */

/* The state of one waiting recv_async/send_async: a tuple
 * (channel, future, loop, fd, data or None, aiter flag). */
enum { A_CHAN, A_FUT, A_LOOP, A_FD, A_DATA, A_AITER, A_N };

static PyObject *get_running_loop; /* asyncio.get_running_loop */

/* One try of the async operation: 1 done (result or exception set on the
 * future), 0 would block, -1 a Python error. */
static int async_try(PyObject *st)
{
	ChanObject *c = (ChanObject *)PyTuple_GET_ITEM(st, A_CHAN);
	PyObject *fut = PyTuple_GET_ITEM(st, A_FUT);
	PyObject *data = PyTuple_GET_ITEM(st, A_DATA);
	PyObject *r = data == Py_None ? chan_recv_impl(c, NULL, 1)
	                              : chan_send_impl(c, data, NULL, 1);
	if (r) {
		PyObject *x = PyObject_CallMethod(fut, "set_result", "O", r);
		Py_DECREF(r);
		Py_XDECREF(x);
		return x ? 1 : -1;
	}
	if (PyErr_ExceptionMatches(PyExc_BlockingIOError)) {
		PyErr_Clear();
		return 0;
	}
	PyObject *t, *v, *tb;
	PyErr_Fetch(&t, &v, &tb);
	PyErr_NormalizeException(&t, &v, &tb);
	if (tb)
		PyException_SetTraceback(v, tb);
	if (PyTuple_GET_ITEM(st, A_AITER) == Py_True &&
	    PyErr_GivenExceptionMatches(t, PyExc_EOFError)) {
		Py_DECREF(v);
		v = PyObject_CallNoArgs(PyExc_StopAsyncIteration);
	}
	Py_XDECREF(t);
	Py_XDECREF(tb);
	if (!v)
		return -1;
	PyObject *x = PyObject_CallMethod(fut, "set_exception", "O", v);
	Py_DECREF(v);
	Py_XDECREF(x);
	return x ? 1 : -1;
}

static PyObject *async_ready(PyObject *st, PyObject *unused)
{
	(void)unused;
	PyObject *done = PyObject_CallMethod(PyTuple_GET_ITEM(st, A_FUT), "done",
	                                     NULL);
	if (!done)
		return NULL;
	int is_done = PyObject_IsTrue(done);
	Py_DECREF(done);
	if (is_done)
		Py_RETURN_NONE;
	return async_try(st) < 0 ? NULL : Py_NewRef(Py_None);
}

/* The future is done (a result, an exception, a cancel): stop watching. */
static PyObject *async_done(PyObject *st, PyObject *fut)
{
	(void)fut;
	ChanObject *c = (ChanObject *)PyTuple_GET_ITEM(st, A_CHAN);
	if (c->waiting != st)
		Py_RETURN_NONE; /* async_cancel did it */
	PyObject *x = PyObject_CallMethod(PyTuple_GET_ITEM(st, A_LOOP),
	                                  "remove_reader", "O",
	                                  PyTuple_GET_ITEM(st, A_FD));
	Py_CLEAR(c->waiting);
	return x;
}

static PyMethodDef async_ready_def = {"ready", async_ready, METH_NOARGS, NULL};
static PyMethodDef async_done_def = {"done", async_done, METH_O, NULL};

/* close() while an async call waits: stop watching the fd before it
 * closes, and cancel the future. */
static PyObject *async_cancel(ChanObject *c)
{
	PyObject *st = c->waiting;
	c->waiting = NULL;
	PyObject *x = PyObject_CallMethod(PyTuple_GET_ITEM(st, A_LOOP),
	                                  "remove_reader", "O",
	                                  PyTuple_GET_ITEM(st, A_FD));
	PyObject *y = x ? PyObject_CallMethod(PyTuple_GET_ITEM(st, A_FUT),
	                                      "cancel", NULL) : NULL;
	Py_XDECREF(x);
	Py_DECREF(st);
	return y;
}

static PyObject *chan_async(ChanObject *self, PyObject *data, int aiter)
{
	int role = data == Py_None ? SHMQ_READER : SHMQ_WRITER;
	if (chan_usable(self, role) < 0)
		return NULL;
	if (!get_running_loop) {
		PyObject *asyncio = PyImport_ImportModule("asyncio");
		if (!asyncio)
			return NULL;
		get_running_loop = PyObject_GetAttrString(asyncio,
		                                          "get_running_loop");
		Py_DECREF(asyncio);
		if (!get_running_loop)
			return NULL;
	}
	PyObject *loop = PyObject_CallNoArgs(get_running_loop);
	if (!loop)
		return NULL;
	PyObject *fut = PyObject_CallMethod(loop, "create_future", NULL);
	PyObject *st = NULL, *fd = NULL, *cb = NULL, *x;
	if (!fut)
		goto fail;
	if (role == SHMQ_WRITER) { /* a copy: the caller may change it */
		data = PyBytes_FromObject(data);
		if (!data)
			goto fail;
	} else
		Py_INCREF(data);
	st = PyTuple_Pack(A_N, self, fut, loop, Py_None, data,
	                  aiter ? Py_True : Py_False);
	Py_DECREF(data);
	if (!st)
		goto fail;
	int got = async_try(st);
	if (got < 0)
		goto fail;
	if (got == 0) {
		if (self->waiting) {
			PyErr_SetString(PyExc_RuntimeError,
			                "another recv_async/send_async waits on this "
			                "channel (one at a time per handle)");
			goto fail;
		}
		int f = shmq_chan_fd(self->ch);
		if (f < 0) {
			chan_fail(self, f, 0);
			goto fail;
		}
		if (!(fd = PyLong_FromLong(f)))
			goto fail;
		Py_SETREF(((PyTupleObject *)st)->ob_item[A_FD], Py_NewRef(fd));
		if (!(cb = PyCFunction_New(&async_ready_def, st)))
			goto fail;
		if (!(x = PyObject_CallMethod(loop, "add_reader", "OO", fd, cb)))
			goto fail;
		Py_DECREF(x);
		Py_CLEAR(cb);
		self->waiting = Py_NewRef(st);
		if (!(cb = PyCFunction_New(&async_done_def, st)) ||
		    !(x = PyObject_CallMethod(fut, "add_done_callback", "O", cb))) {
			Py_XDECREF(async_cancel(self));
			goto fail;
		}
		Py_DECREF(x);
	}
	Py_XDECREF(cb);
	Py_XDECREF(fd);
	Py_DECREF(st);
	Py_DECREF(loop);
	return fut;
fail:
	Py_XDECREF(cb);
	Py_XDECREF(fd);
	Py_XDECREF(st);
	Py_XDECREF(fut);
	Py_DECREF(loop);
	return NULL;
}

static PyObject *chan_recv_async(ChanObject *self, PyObject *unused)
{
	(void)unused;
	return chan_async(self, Py_None, 0);
}

static PyObject *chan_send_async(ChanObject *self, PyObject *data)
{
	if (data == Py_None) {
		PyErr_SetString(PyExc_TypeError, "send_async needs a bytes-like");
		return NULL;
	}
	return chan_async(self, data, 0);
}

static PyObject *chan_anext(ChanObject *self)
{
	return chan_async(self, Py_None, 1);
}

static PyObject *chan_aiter(PyObject *self)
{
	return Py_NewRef(self);
}

static PyAsyncMethods chan_as_async = {
	.am_aiter = chan_aiter,
	.am_anext = (unaryfunc)chan_anext,
};

static PyMethodDef chan_methods[] = {
	{"send", METH_KW(chan_send), METH_VARARGS | METH_KEYWORDS,
	 "send(data, timeout=None)\n--\n\nCopies a bytes-like in as one "
	 "message, waiting while the ring is full (TimeoutError after timeout "
	 "seconds). MessageSizeError: larger than the channel takes; "
	 "BrokenPipeError (PeerDeadError): the ring is full and its readers "
	 "died."},
	{"try_send", (PyCFunction)chan_try_send, METH_O,
	 "try_send(data)\n--\n\nAs send, but raises BlockingIOError instead of "
	 "waiting."},
	{"recv", METH_KW(chan_recv), METH_VARARGS | METH_KEYWORDS,
	 "recv(timeout=None) -> bytes\n--\n\nThe next message, waiting for one "
	 "(TimeoutError after timeout seconds). EOFError: the end of the "
	 "stream (every writer closed, ring drained); BrokenPipeError "
	 "(PeerDeadError, with .pid): a writer died; LostError: broadcast "
	 "messages were overwritten (the next recv goes on)."},
	{"try_recv", (PyCFunction)chan_try_recv, METH_NOARGS,
	 "try_recv() -> bytes\n--\n\nAs recv, but raises BlockingIOError "
	 "instead of waiting."},
	{"recv_into", METH_KW(chan_recv_into), METH_VARARGS | METH_KEYWORDS,
	 "recv_into(buffer, timeout=None) -> int\n--\n\nReceives the next "
	 "message into a writable buffer (bytearray, numpy array, "
	 "memoryview); returns its length. MessageSizeError when it does not "
	 "fit: the message stays queued."},
	{"try_recv_into", (PyCFunction)chan_try_recv_into, METH_O,
	 "try_recv_into(buffer) -> int\n--\n\nAs recv_into, but raises "
	 "BlockingIOError instead of waiting."},
	{"reserve", METH_KW(chan_reserve), METH_VARARGS | METH_KEYWORDS,
	 "reserve(size, timeout=None) -> View\n--\n\nZero copy: room for size "
	 "bytes in the ring, as a writable View:\n\n"
	 "    with ch.reserve(n) as buf:\n        buf[:] = data   # or "
	 "numpy.frombuffer(buf, ...)\n\n"
	 "committed when the block ends, abandoned on an exception."},
	{"try_reserve", (PyCFunction)chan_try_reserve, METH_O,
	 "try_reserve(size) -> View\n--\n\nAs reserve, but raises "
	 "BlockingIOError instead of waiting."},
	{"peek", METH_KW(chan_peek), METH_VARARGS | METH_KEYWORDS,
	 "peek(timeout=None) -> View\n--\n\nZero copy: the next message in "
	 "place, as a read-only View, released when the with block ends:\n\n"
	 "    with ch.peek() as msg:\n        arr = numpy.frombuffer(msg, "
	 "numpy.uint8); total += arr.sum(); del arr\n\n"
	 "Errors as recv."},
	{"try_peek", (PyCFunction)chan_try_peek, METH_NOARGS,
	 "try_peek() -> View\n--\n\nAs peek, but raises BlockingIOError "
	 "instead of waiting."},
	{"fileno", (PyCFunction)chan_fileno, METH_NOARGS,
	 "fileno() -> int\n--\n\nAn fd that polls readable when the next try_ "
	 "call may not block (a message, the end, a dead peer; for a writer: "
	 "room). Read nothing from it; never close it."},
	{"recv_async", (PyCFunction)chan_recv_async, METH_NOARGS,
	 "recv_async() -> Future[bytes]\n--\n\nawait ch.recv_async(): recv in "
	 "asyncio, on loop.add_reader(ch.fileno()). One at a time per channel. "
	 "Use asyncio.wait_for for a timeout. `async for msg in ch` works too."},
	{"send_async", (PyCFunction)chan_send_async, METH_O,
	 "send_async(data) -> Future[None]\n--\n\nawait ch.send_async(data): "
	 "send in asyncio (data is copied first)."},
	{"info", (PyCFunction)chan_info, METH_NOARGS,
	 "info() -> dict\n--\n\nGeometry, depth, peers and counters: the "
	 "'channel' field of shmq.stat()."},
	{"close", (PyCFunction)chan_close, METH_NOARGS,
	 "close()\n--\n\nDetaches. The last process to close removes the "
	 "channel (with unread messages) unless it was created with "
	 "persist=True. A writer's close ends the stream for the readers."},
	{"__enter__", (PyCFunction)chan_enter, METH_NOARGS, NULL},
	{"__exit__", (PyCFunction)chan_exit, METH_VARARGS, NULL},
	{NULL, NULL, 0, NULL},
};

static PyGetSetDef chan_getset[] = {
	{"name", (getter)chan_get_name, NULL, "The locator, as given.", NULL},
	{"role", (getter)chan_get_role, NULL, "'reader' or 'writer'.", NULL},
	{"kind", (getter)chan_get_kind, NULL, "'spsc', 'mpmc' or 'broadcast'.",
	 NULL},
	{"max_msg", (getter)chan_get_max_msg, NULL,
	 "The largest message the channel takes.", NULL},
	{"lost", (getter)chan_get_lost, NULL,
	 "Messages this reader missed (broadcast, overwrite), in total.", NULL},
	{"closed", (getter)chan_get_closed, NULL, "True after close().", NULL},
	{NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject ChanType = {
	PyVarObject_HEAD_INIT(NULL, 0)
	.tp_name = "shmq.Channel",
	.tp_basicsize = sizeof(ChanObject),
	.tp_dealloc = (destructor)chan_dealloc,
	.tp_repr = (reprfunc)chan_repr,
	.tp_as_async = &chan_as_async,
	.tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
	.tp_doc = "Channel(name, role='reader', *, create=False, exist_ok=False, "
	          "kind='spsc', capacity=0, msg_size=0, policy='block', "
	          "mode=0o600, persist=False, any_owner=False, spin_ns=-1, "
	          "plain_fences=False)\n--\n\n"
	          "One end of a shmq channel: a message queue in shared memory. "
	          "name is a locator ('posix:jobs', or a bare name). "
	          "role: 'reader' or 'writer'.\n\n"
	          "create=True makes the channel (ExistsError if the name is "
	          "taken, unless exist_ok=True: then an existing one is joined, "
	          "race free); otherwise it must exist. kind: 'spsc' (one "
	          "writer, one reader, a byte ring of capacity bytes), 'mpmc' "
	          "(each message to one reader; capacity slots of msg_size "
	          "bytes), 'broadcast' (every reader gets every message; "
	          "policy 'block' waits for the slowest reader, 'overwrite' "
	          "never waits). 0 means the default size. persist=True: the "
	          "last close does not remove it. plain_fences=True: its "
	          "peers fence plainly instead of a membarrier() per sleep "
	          "(peers that sleep often, on a VM).\n\n"
	          "    with shmq.Channel('posix:jobs', 'writer', create=True, "
	          "exist_ok=True) as w:\n        w.send(b'job 1')\n"
	          "    for msg in shmq.Channel('posix:jobs', 'reader'):   # "
	          "ends at the end of the stream\n        handle(msg)\n\n"
	          "Blocking calls release the GIL and are interrupted by Ctrl-C "
	          "within ~20 ms. A handle serves one thread at a time; a fork "
	          "child opens its own.",
	.tp_weaklistoffset = offsetof(ChanObject, weakrefs),
	.tp_iter = PyObject_SelfIter,
	.tp_iternext = (iternextfunc)chan_iternext,
	.tp_methods = chan_methods,
	.tp_getset = chan_getset,
	.tp_init = (initproc)chan_init,
	.tp_new = PyType_GenericNew,
};

/* ---- stat, ls: the fields of `shmq ls --json` ------------------------------------- */

static int put(PyObject *d, const char *k, PyObject *v)
{
	if (!v)
		return -1;
	int rc = PyDict_SetItemString(d, k, v);
	Py_DECREF(v);
	return rc;
}

static PyObject *num_or_none(long long v, int none)
{
	return none ? Py_NewRef(Py_None) : PyLong_FromLongLong(v);
}

static PyObject *alive_of(int alive)
{
	return alive == SHMQ_PID_UNKNOWN ? Py_NewRef(Py_None)
	                                 : PyBool_FromLong(alive);
}

static PyObject *fs_str(const char *s)
{
	/* names in /dev/shm are bytes: the JSON's Latin-1 reading of a byte
	 * that is not UTF-8 is what surrogateescape does not give; use the
	 * file system's decoding, as os.listdir does */
	return PyUnicode_DecodeFSDefault(s);
}

static PyObject *peers_list(const struct shmq_chan_info *in, int role)
{
	PyObject *l = PyList_New(0);
	for (unsigned i = 0; l && i < in->npeers; i++) {
		const struct shmq_chan_peer_info *p = &in->peers[i];
		if (p->role != role)
			continue;
		PyObject *d = Py_BuildValue(
			"{s:i,s:N,s:K}", "pid", (int)p->pid, "alive",
			p->alive == SHMQ_PID_UNKNOWN ? Py_NewRef(Py_None)
			                             : PyBool_FromLong(p->alive == SHMQ_PID_ALIVE),
			"msgs", (unsigned long long)p->msgs);
		if (!d || PyList_Append(l, d) < 0) {
			Py_XDECREF(d);
			Py_CLEAR(l);
		} else
			Py_DECREF(d);
	}
	return l;
}

static PyObject *chan_info_dict(const struct shmq_chan_info *in)
{
	const char *k = in->kind >= 1 && in->kind <= 3 ? kind_names[in->kind - 1]
	                                                 : "unknown";
	const char *p = in->policy == 0 || in->policy == 1
	                        ? policy_names[in->policy] : "unknown";
	return Py_BuildValue(
		"{s:s,s:K,s:K,s:s,s:K,s:K,s:N,s:N,s:K,s:K,s:K,s:K}", "type", k,
		"capacity", (unsigned long long)in->capacity, "msg_size",
		(unsigned long long)in->msg_size, "policy", p, "depth_bytes",
		(unsigned long long)in->depth_bytes, "depth_msgs",
		(unsigned long long)in->depth_msgs, "writers",
		peers_list(in, SHMQ_WRITER), "readers",
		peers_list(in, SHMQ_READER), "sent",
		(unsigned long long)in->sent, "received",
		(unsigned long long)in->received, "lost",
		(unsigned long long)in->lost, "recovered",
		(unsigned long long)in->recovered);
}

static int is_sysv(int family)
{
	return family == SHMQ_FAMILY_SYSV || family == SHMQ_FAMILY_SYSV_SEM ||
	       family == SHMQ_FAMILY_SYSV_MSG;
}

/* One object's dict, field by field as cli_json_stat() (cli/util.c)
 * writes it; test_python_interop.py compares the two. */
static PyObject *stat_dict(const struct shmq_stat *st)
{
	PyObject *d = PyDict_New();
	int sysv = is_sysv(st->family);
	int sem = st->family == SHMQ_FAMILY_SYSV_SEM;
	int msg = st->family == SHMQ_FAMILY_SYSV_MSG;
	const char *fam = shmq_family_name(st->family);
	char key[16], mode[16], user[64];
	struct passwd *pw = getpwuid(st->uid);
	struct shmq_chan_info in;

	snprintf(key, sizeof(key), "0x%08x", (unsigned)st->key);
	snprintf(mode, sizeof(mode), "%04o", st->mode);
	if (pw && pw->pw_name)
		snprintf(user, sizeof(user), "%s", pw->pw_name);
	else
		snprintf(user, sizeof(user), "%u", (unsigned)st->uid);
	if (!d || put(d, "family", PyUnicode_FromString(fam ? fam : "unknown")) ||
	    put(d, "locator", fs_str(st->locator)) ||
	    put(d, "name", st->name[0] ? fs_str(st->name) : Py_NewRef(Py_None)) ||
	    put(d, "key", sysv ? PyUnicode_FromString(key) : Py_NewRef(Py_None)) ||
	    put(d, "id", num_or_none(st->id, !sysv)) ||
	    put(d, "size", PyLong_FromUnsignedLongLong(st->size)) ||
	    put(d, "mapped_size", PyLong_FromUnsignedLongLong(st->mapped_size)) ||
	    put(d, "mode", PyUnicode_FromString(mode)) ||
	    put(d, "uid", PyLong_FromUnsignedLong(st->uid)) ||
	    put(d, "gid", PyLong_FromUnsignedLong(st->gid)) ||
	    put(d, "cuid", PyLong_FromUnsignedLong(st->cuid)) ||
	    put(d, "cgid", PyLong_FromUnsignedLong(st->cgid)) ||
	    put(d, "owner", PyUnicode_DecodeUTF8(user, (Py_ssize_t)strlen(user),
	                                         "replace")) ||
	    put(d, "nattch", num_or_none(st->nattch, st->nattch < 0)) ||
	    put(d, "cpid", num_or_none(st->cpid, st->cpid == 0)) ||
	    put(d, "lpid", num_or_none(st->lpid, st->lpid == 0)) ||
	    put(d, "cpid_alive",
	        alive_of(st->cpid == 0 ? SHMQ_PID_UNKNOWN : st->cpid_alive)) ||
	    put(d, "lpid_alive",
	        alive_of(st->lpid == 0 ? SHMQ_PID_UNKNOWN : st->lpid_alive)) ||
	    put(d, "atime", num_or_none(st->atime, st->atime == 0)) ||
	    put(d, "dtime", num_or_none(st->dtime, st->dtime == 0)) ||
	    put(d, "ctime", num_or_none(st->ctime, st->ctime == 0)) ||
	    put(d, "removed", PyBool_FromLong(st->removed)) ||
	    put(d, "orphan", PyBool_FromLong(st->orphan)) ||
	    put(d, "stale", PyBool_FromLong(st->stale)) ||
	    put(d, "huge", st->huge < 0 ? Py_NewRef(Py_None)
	                                : PyBool_FromLong(st->huge)) ||
	    put(d, "kind", PyUnicode_FromString(st->kind)) ||
	    put(d, "nsems", num_or_none((long long)st->nsems, !sem)) ||
	    put(d, "qnum", num_or_none((long long)st->qnum, !msg)) ||
	    put(d, "qbytes", num_or_none((long long)st->qbytes,
	                                 !msg || st->qbytes == 0)) ||
	    put(d, "lspid", num_or_none(st->lspid, !msg || st->lspid == 0)) ||
	    put(d, "lrpid", num_or_none(st->lrpid, !msg || st->lrpid == 0)) ||
	    put(d, "lspid_alive", alive_of(!msg || st->lspid == 0
	                                   ? SHMQ_PID_UNKNOWN : st->lspid_alive)) ||
	    put(d, "lrpid_alive", alive_of(!msg || st->lrpid == 0
	                                   ? SHMQ_PID_UNKNOWN : st->lrpid_alive)) ||
	    put(d, "channel", strcmp(st->kind, "channel") ||
	                      shmq_chan_stat(st->locator, &in)
	                      ? Py_NewRef(Py_None) : chan_info_dict(&in))) {
		Py_XDECREF(d);
		return NULL;
	}
	return d;
}

static PyObject *mod_stat(PyObject *m, PyObject *arg)
{
	struct shmq_stat st;
	(void)m;
	const char *loc = PyUnicode_Check(arg) ? PyUnicode_AsUTF8(arg) : NULL;
	if (!loc) {
		if (!PyErr_Occurred())
			PyErr_SetString(PyExc_TypeError, "stat() needs a locator (str)");
		return NULL;
	}
	int rc = shmq_stat(loc, &st);
	if (rc < 0)
		return raise_code(rc, loc);
	return stat_dict(&st);
}

static int ls_one(const struct shmq_stat *st, void *arg)
{
	PyObject *d = stat_dict(st);
	if (!d || PyList_Append(arg, d) < 0) {
		Py_XDECREF(d);
		return -1;
	}
	Py_DECREF(d);
	return 0;
}

static PyObject *mod_ls(PyObject *m, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = {"all", NULL};
	int all = 0;
	(void)m;
	if (!PyArg_ParseTupleAndKeywords(args, kw, "|$p", kwlist, &all))
		return NULL;
	PyObject *l = PyList_New(0);
	if (!l)
		return NULL;
	int rc = shmq_list(all ? SHMQ_LIST_ALL : 0, ls_one, l);
	if (rc < 0 && !PyErr_Occurred())
		raise_code(rc, NULL);
	if (PyErr_Occurred()) {
		Py_DECREF(l);
		return NULL;
	}
	return l;
}

static PyObject *mod_unlink(PyObject *m, PyObject *arg)
{
	(void)m;
	const char *loc = PyUnicode_Check(arg) ? PyUnicode_AsUTF8(arg) : NULL;
	if (!loc) {
		if (!PyErr_Occurred())
			PyErr_SetString(PyExc_TypeError,
			                "unlink() needs a locator (str)");
		return NULL;
	}
	int rc = shmq_unlink(loc);
	if (rc < 0)
		return raise_code(rc, loc);
	Py_RETURN_NONE;
}

static PyObject *mod_explain(PyObject *m, PyObject *args, PyObject *kw)
{
	static char *kwlist[] = {"code", "object", "size", NULL};
	int code;
	const char *obj = NULL;
	Py_ssize_t size = 0;
	char line[EXPLAIN_LEN];
	(void)m;
	if (!PyArg_ParseTupleAndKeywords(args, kw, "i|zn", kwlist, &code, &obj,
	                                 &size))
		return NULL;
	if (size < 0) {
		PyErr_SetString(PyExc_ValueError, "size must be >= 0");
		return NULL;
	}
	return py_line(shmq_explain(code > 0 ? -code : code, obj, (size_t)size,
	                            line, sizeof(line)));
}

static PyMethodDef mod_methods[] = {
	{"stat", mod_stat, METH_O,
	 "stat(locator) -> dict\n--\n\nEverything known about one object: the "
	 "fields of `shmq stat --json` (for a channel, 'channel' holds its "
	 "geometry, peers and counters)."},
	{"ls", METH_KW(mod_ls), METH_VARARGS | METH_KEYWORDS,
	 "ls(*, all=False) -> list[dict]\n--\n\nEvery System V segment, set "
	 "and queue, POSIX object and named semaphore (all=True: also the "
	 "memfds processes hold), as `shmq ls --json` gives them."},
	{"unlink", mod_unlink, METH_O,
	 "unlink(locator)\n--\n\nRemoves a named object (segment, channel, "
	 "semaphore set, queue, named semaphore); who has it attached keeps "
	 "it until they close."},
	{"explain", METH_KW(mod_explain), METH_VARARGS | METH_KEYWORDS,
	 "explain(code, object=None, size=0) -> str\n--\n\nThe library's "
	 "one-line explanation of an error code (e.errno or e.code)."},
	{NULL, NULL, 0, NULL},
};

static struct PyModuleDef shmq_module = {
	PyModuleDef_HEAD_INIT,
	.m_name = "shmq",
	.m_doc = "Fast, safe inter-process communication through shared memory "
	         "(libshmq).\n\n"
	         "Segment: a shared segment as a buffer (memoryview, numpy). "
	         "Channel: a message queue between processes, with zero-copy "
	         "reserve/peek views and asyncio helpers. Mutex, Semaphore, "
	         "Event: synchronization placed in a segment. ls(), stat(), "
	         "unlink(): the objects of the system. Errors: shmq.Error and "
	         "its subclasses, which are also FileNotFoundError, "
	         "PermissionError, TimeoutError, BrokenPipeError... where one "
	         "fits. docs/python.md has the whole API.",
	.m_size = -1,
	.m_methods = mod_methods,
};

PyMODINIT_FUNC PyInit_shmq(void)
{
	PyObject *m;
	static int atfork;
	PyTypeObject *types[] = {&SegType, &MutexType, &SemType, &EventType,
	                         &ChanType, &ViewType};
	const char *names[] = {"Segment", "Mutex", "Semaphore", "Event",
	                       "Channel", "View"};

	if (shmq_version_check(SHMQ_VERSION_MAJOR, SHMQ_VERSION_MINOR) < 0) {
		PyErr_SetString(PyExc_ImportError, "libshmq version mismatch");
		return NULL;
	}
	if (!atfork && pthread_atfork(NULL, NULL, on_fork_child) == 0)
		atfork = 1;
	if (!(m = PyModule_Create(&shmq_module)))
		return NULL;
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (PyType_Ready(types[i]) < 0 ||
		    PyModule_AddObjectRef(m, names[i], (PyObject *)types[i]) < 0)
			goto fail;
	if (make_errors(m) < 0 ||
	    PyModule_AddStringConstant(m, "__version__", shmq_version()) < 0 ||
	    PyModule_AddIntConstant(m, "SLICE_MS", SLICE_MS) < 0)
		goto fail;
	if (!unsupported) {
		PyObject *io = PyImport_ImportModule("io");
		if (!io)
			goto fail;
		unsupported = PyObject_GetAttrString(io, "UnsupportedOperation");
		Py_DECREF(io);
		if (!unsupported)
			goto fail;
	}
	return m;
fail:
	Py_DECREF(m);
	return NULL;
}
