#ifndef PYTHONGLUE_H
#define PYTHONGLUE_H

#include <stddef.h>
#include <sys/types.h>

/* Python's headers stay inside this target (they clash with Swift's Glibc
 * module), so Swift sees only these declarations: PyObject is opaque, and
 * every C API function the worker uses has a pg_ wrapper below. */
typedef struct _object PyObject;
typedef struct _ts PyThreadState;
typedef ssize_t Py_ssize_t;

/* What the `_hadjango` native module calls back into (the worker's request
 * runner, in Swift). Each gets the context the worker set (its runner) and
 * returns a new reference, or NULL with a Python exception set. */
typedef struct {
    PyObject *(*start_response)(void *context, PyObject *status, PyObject *headers, PyObject *exc_info);
    PyObject *(*write)(void *context, PyObject *data);
    /* size < 0: the rest of the body. Returns bytes (empty at the end). */
    PyObject *(*read)(void *context, Py_ssize_t size);
    /* Lines for the log (wsgi.errors, uwsgi.log). */
    void (*log)(void *context, const char *text, Py_ssize_t length);
    /* uwsgi module support. */
    PyObject *(*set_logvar)(void *context, PyObject *key, PyObject *value);
    PyObject *(*set_procname)(void *context, PyObject *name);
    PyObject *(*request_reload)(void *context);
    /* The uwsgi module's process-wide calls (locks, caches, signals): `args`
     * is `_hadjango.api`'s argument tuple, an operation number first; the
     * first argument is the services set with pg_set_services. */
    PyObject *(*api)(void *services, PyObject *args);
} pg_callbacks;

/* Creates the `_hadjango` module (in sys.modules) with the callbacks and a
 * NULL context kept in the module's own state: no process-wide variable.
 * Call after pg_initialize; returns the module (a new reference) or NULL. */
PyObject *pg_install_native_module(const pg_callbacks *callbacks);
/* The context the calling thread's callbacks receive. */
void pg_set_callback_context(void *context);
/* What `api` receives, whatever the thread (kept in the module's state). */
void pg_set_services(PyObject *module, void *services);

/* Starts the interpreter. `venv_python` (may be NULL) is a virtualenv's
 * bin/python: the interpreter then configures itself as that python would
 * (pyvenv.cfg, its site-packages). `python_home` (may be NULL) is a plain
 * PYTHONHOME. Returns 0, or -1 with *error set to a malloc'ed message. */
int pg_initialize(const char *venv_python, const char *python_home, char **error);

/* The pending exception as a one-line summary ("ValueError: x") and a full
 * traceback, both malloc'ed; clears it. Returns 0 when none was pending. */
int pg_fetch_exception(char **summary, char **traceback);

void pg_incref(PyObject *o);
void pg_decref(PyObject *o);
void pg_xdecref(PyObject *o);
PyObject *pg_none(void);
PyObject *pg_true(void);
PyObject *pg_false(void);
int pg_is_bytes(PyObject *o);
int pg_is_unicode(PyObject *o);
int pg_is_list(PyObject *o);
int pg_is_long(PyObject *o);
int pg_is_tuple(PyObject *o);
char *pg_bytes_data(PyObject *o);
Py_ssize_t pg_bytes_size(PyObject *o);
/* Borrowed item of a list or tuple. */
PyObject *pg_sequence_item(PyObject *seq, Py_ssize_t i);
Py_ssize_t pg_sequence_size(PyObject *seq);
/* A str's latin-1 bytes (as PEP 3333 requires of status and headers); NULL if not latin-1. */
const char *pg_latin1(PyObject *o, Py_ssize_t *length, PyObject **holder);
/* Sets a Python exception of the given kind with a message. */
void pg_set_error(int kind, const char *message);
enum { PG_VALUE_ERROR = 1, PG_TYPE_ERROR = 2, PG_OS_ERROR = 3, PG_ASSERTION_ERROR = 4, PG_RUNTIME_ERROR = 5 };


/* C API wrappers (same semantics as the functions they are named after). */
PyObject *pg_unicode_latin1(const char *data, Py_ssize_t size);
PyObject *pg_unicode_utf8(const char *data, Py_ssize_t size);
PyObject *pg_unicode_interned(const char *text);
const char *pg_unicode_utf8_of(PyObject *o, Py_ssize_t *size);
PyObject *pg_unicode_join(PyObject *separator, PyObject *list);
PyObject *pg_bytes_new(const char *data, Py_ssize_t size);
PyObject *pg_long(long value);
long pg_long_value(PyObject *o);
PyObject *pg_dict_new(void);
PyObject *pg_dict_copy(PyObject *dict);
int pg_dict_set(PyObject *dict, PyObject *key, PyObject *value);
int pg_dict_set_string(PyObject *dict, const char *key, PyObject *value);
PyObject *pg_dict_get(PyObject *dict, PyObject *key); /* borrowed */
PyObject *pg_list_new(Py_ssize_t size);
int pg_list_append(PyObject *list, PyObject *item);
int pg_list_insert(PyObject *list, Py_ssize_t index, PyObject *item);
PyObject *pg_tuple_new(Py_ssize_t size);
int pg_tuple_set(PyObject *tuple, Py_ssize_t index, PyObject *item); /* steals item */
PyObject *pg_tuple_item(PyObject *tuple, Py_ssize_t index); /* borrowed */
PyObject *pg_getattr(PyObject *o, const char *name);
int pg_hasattr(PyObject *o, const char *name);
PyObject *pg_call(PyObject *callable, PyObject *args, PyObject *kwargs);
PyObject *pg_call2(PyObject *callable, PyObject *a, PyObject *b);
PyObject *pg_call_method0(PyObject *o, const char *name);
int pg_call_close(PyObject *o);
PyObject *pg_iter(PyObject *o);
PyObject *pg_next(PyObject *iterator); /* NULL at the end or on error (check pg_error_pending) */
int pg_error_pending(void);
void pg_error_clear(void);
/* Re-raises exc_info = (type, value, traceback). */
void pg_error_restore_from(PyObject *exc_info);
int pg_is_instance(PyObject *o, PyObject *type);
PyObject *pg_sys_path(void); /* borrowed */
PyObject *pg_import(const char *name);
/* Runs source in a fresh module of that name; returns the module or NULL. */
PyObject *pg_run_module(const char *name, const char *source);
/* The linked libpython's version ("3.11.2 (main, ...)"); callable before pg_initialize. */
const char *pg_version(void);
/* Releases the GIL held by the calling thread: 1, or 0 when it was released already. */
int pg_release_gil(void);
/* Takes back what pg_release_gil released: 1, or 0 when the thread holds it already. */
int pg_acquire_gil(void);
/* A thread not created by Python takes the GIL with a thread state of its own. */
void pg_thread_begin(void);

#endif
