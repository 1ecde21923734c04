#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include "pythonglue.h"

#include <stdlib.h>
#include <string.h>

/* _hadjango: the native functions behind start_response, write, wsgi.input
 * and the uwsgi module. They only unpack arguments and call the worker,
 * through the callbacks kept in the module's state and the context of the
 * calling thread: with `threads`, each request thread of a worker has its own
 * (its request runner). */

typedef struct {
    pg_callbacks callbacks;
    void *services;
} module_state;

static _Thread_local void *thread_context;

static module_state *state_of(PyObject *module) { return (module_state *)PyModule_GetState(module); }

static PyObject *m_start_response(PyObject *self, PyObject *args) {
    PyObject *status, *headers, *exc_info = Py_None;
    if (!PyArg_ParseTuple(args, "OO|O:start_response", &status, &headers, &exc_info)) return NULL;
    module_state *st = state_of(self);
    return st->callbacks.start_response(thread_context, status, headers, exc_info);
}

static PyObject *m_write(PyObject *self, PyObject *data) {
    module_state *st = state_of(self);
    return st->callbacks.write(thread_context, data);
}

static PyObject *m_read(PyObject *self, PyObject *args) {
    Py_ssize_t size = -1;
    if (!PyArg_ParseTuple(args, "|n:read", &size)) return NULL;
    module_state *st = state_of(self);
    return st->callbacks.read(thread_context, size);
}

static PyObject *m_log(PyObject *self, PyObject *arg) {
    Py_ssize_t len;
    const char *text = PyUnicode_AsUTF8AndSize(arg, &len);
    if (text == NULL) return NULL;
    module_state *st = state_of(self);
    st->callbacks.log(thread_context, text, len);
    Py_RETURN_NONE;
}

static PyObject *m_set_logvar(PyObject *self, PyObject *args) {
    PyObject *key, *value;
    if (!PyArg_ParseTuple(args, "UU:set_logvar", &key, &value)) return NULL;
    module_state *st = state_of(self);
    return st->callbacks.set_logvar(thread_context, key, value);
}

static PyObject *m_setprocname(PyObject *self, PyObject *name) {
    if (!PyUnicode_Check(name)) {
        PyErr_SetString(PyExc_TypeError, "setprocname() takes a str");
        return NULL;
    }
    module_state *st = state_of(self);
    return st->callbacks.set_procname(thread_context, name);
}

static PyObject *m_reload(PyObject *self, PyObject *unused) {
    module_state *st = state_of(self);
    return st->callbacks.request_reload(thread_context);
}

static PyObject *m_api(PyObject *self, PyObject *args) {
    module_state *st = state_of(self);
    return st->callbacks.api(st->services, args);
}

static PyMethodDef methods[] = {
    {"start_response", m_start_response, METH_VARARGS, "WSGI start_response(status, headers, exc_info=None)"},
    {"write", m_write, METH_O, "WSGI write(data)"},
    {"read", m_read, METH_VARARGS, "read(size=-1): request body bytes"},
    {"log", m_log, METH_O, "log(text)"},
    {"set_logvar", m_set_logvar, METH_VARARGS, "set_logvar(key, value)"},
    {"setprocname", m_setprocname, METH_O, "setprocname(name)"},
    {"reload", m_reload, METH_NOARGS, "ask the master for a graceful reload"},
    {"api", m_api, METH_VARARGS, "api(operation, *args): locks, caches, signals"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {PyModuleDef_HEAD_INIT, "_hadjango", NULL, sizeof(module_state), methods};

PyObject *pg_install_native_module(const pg_callbacks *callbacks) {
    PyObject *module = PyModule_Create(&module_def);
    if (module == NULL) return NULL;
    module_state *st = state_of(module);
    st->callbacks = *callbacks;
    PyObject *modules = PyImport_GetModuleDict(); /* borrowed */
    if (PyDict_SetItemString(modules, "_hadjango", module) < 0) {
        Py_DECREF(module);
        return NULL;
    }
    return module;
}

void pg_set_callback_context(void *context) { thread_context = context; }

void pg_set_services(PyObject *module, void *services) { state_of(module)->services = services; }

static char *copy_status_error(PyStatus status) {
    const char *msg = status.err_msg ? status.err_msg : "unknown error";
    const char *func = status.func ? status.func : "Py_InitializeFromConfig";
    size_t n = strlen(msg) + strlen(func) + 4;
    char *out = malloc(n);
    if (out) snprintf(out, n, "%s: %s", func, msg);
    return out;
}

int pg_initialize(const char *venv_python, const char *python_home, char **error) {
    PyConfig config;
    PyConfig_InitPythonConfig(&config);
    /* The worker's own signals and argv are its business, not Python's. */
    config.install_signal_handlers = 0;
    config.parse_argv = 0;
    PyStatus status = PyStatus_Ok();
    if (venv_python) status = PyConfig_SetBytesString(&config, &config.executable, venv_python);
    if (!PyStatus_Exception(status) && venv_python)
        status = PyConfig_SetBytesString(&config, &config.program_name, venv_python);
    if (!PyStatus_Exception(status) && python_home)
        status = PyConfig_SetBytesString(&config, &config.home, python_home);
    if (!PyStatus_Exception(status)) status = Py_InitializeFromConfig(&config);
    PyConfig_Clear(&config);
    if (PyStatus_Exception(status)) {
        *error = copy_status_error(status);
        return -1;
    }
    return 0;
}

int pg_fetch_exception(char **summary, char **traceback) {
    *summary = NULL;
    *traceback = NULL;
    if (!PyErr_Occurred()) return 0;
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    if (tb && value) PyException_SetTraceback(value, tb);

    PyObject *name = type ? PyObject_GetAttrString(type, "__name__") : NULL;
    PyObject *text = value ? PyObject_Str(value) : NULL;
    const char *n = name ? PyUnicode_AsUTF8(name) : "Exception";
    const char *t = text ? PyUnicode_AsUTF8(text) : "";
    if (!n) n = "Exception";
    if (!t) t = "";
    size_t len = strlen(n) + strlen(t) + 3;
    *summary = malloc(len);
    if (*summary) snprintf(*summary, len, t[0] ? "%s: %s" : "%s", n, t);

    PyObject *mod = PyImport_ImportModule("traceback");
    PyObject *lines = mod ? PyObject_CallMethod(mod, "format_exception", "OOO", type ? type : Py_None,
                                                value ? value : Py_None, tb ? tb : Py_None) : NULL;
    PyObject *empty = PyUnicode_FromString("");
    PyObject *joined = (lines && empty) ? PyUnicode_Join(empty, lines) : NULL;
    const char *j = joined ? PyUnicode_AsUTF8(joined) : NULL;
    if (j) *traceback = strdup(j);
    PyErr_Clear();
    Py_XDECREF(joined);
    Py_XDECREF(empty);
    Py_XDECREF(lines);
    Py_XDECREF(mod);
    Py_XDECREF(name);
    Py_XDECREF(text);
    Py_XDECREF(type);
    Py_XDECREF(value);
    Py_XDECREF(tb);
    return 1;
}

void pg_incref(PyObject *o) { Py_INCREF(o); }
void pg_decref(PyObject *o) { Py_DECREF(o); }
void pg_xdecref(PyObject *o) { Py_XDECREF(o); }
PyObject *pg_none(void) { return Py_None; }
PyObject *pg_true(void) { return Py_True; }
PyObject *pg_false(void) { return Py_False; }
int pg_is_bytes(PyObject *o) { return PyBytes_Check(o); }
int pg_is_unicode(PyObject *o) { return PyUnicode_Check(o); }
int pg_is_list(PyObject *o) { return PyList_Check(o); }
int pg_is_long(PyObject *o) { return PyLong_Check(o); }
int pg_is_tuple(PyObject *o) { return PyTuple_Check(o); }
char *pg_bytes_data(PyObject *o) { return PyBytes_AS_STRING(o); }
Py_ssize_t pg_bytes_size(PyObject *o) { return PyBytes_GET_SIZE(o); }

PyObject *pg_sequence_item(PyObject *seq, Py_ssize_t i) {
    return PyList_Check(seq) ? PyList_GET_ITEM(seq, i) : PyTuple_GET_ITEM(seq, i);
}

Py_ssize_t pg_sequence_size(PyObject *seq) {
    return PyList_Check(seq) ? PyList_GET_SIZE(seq) : PyTuple_GET_SIZE(seq);
}

const char *pg_latin1(PyObject *o, Py_ssize_t *length, PyObject **holder) {
    *holder = NULL;
    if (!PyUnicode_Check(o)) return NULL;
    if (PyUnicode_IS_COMPACT_ASCII(o)) {
        return PyUnicode_AsUTF8AndSize(o, length);
    }
    PyObject *b = PyUnicode_AsLatin1String(o);
    if (!b) {
        PyErr_Clear();
        return NULL;
    }
    *holder = b;
    *length = PyBytes_GET_SIZE(b);
    return PyBytes_AS_STRING(b);
}

void pg_set_error(int kind, const char *message) {
    PyObject *type = PyExc_RuntimeError;
    switch (kind) {
    case PG_VALUE_ERROR: type = PyExc_ValueError; break;
    case PG_TYPE_ERROR: type = PyExc_TypeError; break;
    case PG_OS_ERROR: type = PyExc_OSError; break;
    case PG_ASSERTION_ERROR: type = PyExc_AssertionError; break;
    default: break;
    }
    PyErr_SetString(type, message);
}

PyObject *pg_unicode_latin1(const char *data, Py_ssize_t size) { return PyUnicode_DecodeLatin1(data, size, NULL); }
PyObject *pg_unicode_utf8(const char *data, Py_ssize_t size) { return PyUnicode_DecodeUTF8(data, size, "surrogateescape"); }
PyObject *pg_unicode_interned(const char *text) { return PyUnicode_InternFromString(text); }
const char *pg_unicode_utf8_of(PyObject *o, Py_ssize_t *size) {
    const char *p = PyUnicode_AsUTF8AndSize(o, size);
    if (!p) PyErr_Clear();
    return p;
}
PyObject *pg_bytes_new(const char *data, Py_ssize_t size) { return PyBytes_FromStringAndSize(data, size); }
PyObject *pg_long(long value) { return PyLong_FromLong(value); }
long pg_long_value(PyObject *o) { return PyLong_AsLong(o); }
PyObject *pg_dict_new(void) { return PyDict_New(); }
/* A shallow copy (a plain dict of str keys is copied as one block). */
PyObject *pg_dict_copy(PyObject *dict) { return PyDict_Copy(dict); }
int pg_dict_set(PyObject *dict, PyObject *key, PyObject *value) { return PyDict_SetItem(dict, key, value); }
int pg_dict_set_string(PyObject *dict, const char *key, PyObject *value) { return PyDict_SetItemString(dict, key, value); }
PyObject *pg_dict_get(PyObject *dict, PyObject *key) { return PyDict_GetItem(dict, key); }
PyObject *pg_list_new(Py_ssize_t size) { return PyList_New(size); }
int pg_list_append(PyObject *list, PyObject *item) { return PyList_Append(list, item); }
int pg_list_insert(PyObject *list, Py_ssize_t index, PyObject *item) { return PyList_Insert(list, index, item); }
PyObject *pg_tuple_new(Py_ssize_t size) { return PyTuple_New(size); }
int pg_tuple_set(PyObject *tuple, Py_ssize_t index, PyObject *item) { return PyTuple_SetItem(tuple, index, item); }
PyObject *pg_tuple_item(PyObject *tuple, Py_ssize_t index) { return PyTuple_GetItem(tuple, index); }
PyObject *pg_getattr(PyObject *o, const char *name) { return PyObject_GetAttrString(o, name); }
int pg_hasattr(PyObject *o, const char *name) { return PyObject_HasAttrString(o, name); }
PyObject *pg_call(PyObject *callable, PyObject *args, PyObject *kwargs) { return PyObject_Call(callable, args, kwargs); }
PyObject *pg_call2(PyObject *callable, PyObject *a, PyObject *b) {
    PyObject *args[2] = {a, b};
    return PyObject_Vectorcall(callable, args, 2, NULL);
}
PyObject *pg_call_method0(PyObject *o, const char *name) { return PyObject_CallMethod(o, name, NULL); }
/* PEP 3333's close() on a response iterable: 0 when it has none, 1 when it
 * ran, -1 when it raised (the error is set). The name is interned once:
 * this runs for every request. */
int pg_call_close(PyObject *o) {
    static PyObject *name;
    if (name == NULL && (name = PyUnicode_InternFromString("close")) == NULL) return -1;
    PyObject *method = PyObject_GetAttr(o, name);
    if (method == NULL) {
        if (!PyErr_ExceptionMatches(PyExc_AttributeError)) return -1;
        PyErr_Clear();
        return 0;
    }
    PyObject *r = PyObject_CallNoArgs(method);
    Py_DECREF(method);
    if (r == NULL) return -1;
    Py_DECREF(r);
    return 1;
}
PyObject *pg_iter(PyObject *o) { return PyObject_GetIter(o); }
PyObject *pg_next(PyObject *iterator) { return PyIter_Next(iterator); }
int pg_error_pending(void) { return PyErr_Occurred() != NULL; }
void pg_error_clear(void) { PyErr_Clear(); }
void pg_error_restore_from(PyObject *exc_info) {
    PyObject *t = NULL, *v = NULL, *tb = NULL;
    if (PyTuple_Check(exc_info) && PyTuple_GET_SIZE(exc_info) == 3) {
        t = PyTuple_GET_ITEM(exc_info, 0);
        v = PyTuple_GET_ITEM(exc_info, 1);
        tb = PyTuple_GET_ITEM(exc_info, 2);
    }
    if (t == NULL || t == Py_None) {
        PyErr_SetString(PyExc_AssertionError, "start_response: exc_info is not an exception triple");
        return;
    }
    Py_XINCREF(t);
    Py_XINCREF(v);
    Py_XINCREF(tb);
    PyErr_Restore(t, v == Py_None ? NULL : v, tb == Py_None ? NULL : tb);
    if (v == Py_None) Py_DECREF(v);
    if (tb == Py_None) Py_DECREF(tb);
}
int pg_is_instance(PyObject *o, PyObject *type) { return PyObject_IsInstance(o, type) == 1; }
PyObject *pg_sys_path(void) { return PySys_GetObject("path"); }
PyObject *pg_import(const char *name) { return PyImport_ImportModule(name); }
PyObject *pg_run_module(const char *name, const char *source) {
    PyObject *code = Py_CompileString(source, name, Py_file_input);
    if (!code) return NULL;
    PyObject *module = PyImport_ExecCodeModule(name, code);
    Py_DECREF(code);
    return module;
}
const char *pg_version(void) { return Py_GetVersion(); }
/* The GIL around a thread's waits: released by the thread holding it, taken
 * back by the same thread (its state is kept per thread). Each returns 1 when
 * it did something, so that calls nest: a wait inside a request gives the GIL
 * back after; a thread that runs without it outside requests stays so. */
static _Thread_local PyThreadState *released_state;
int pg_release_gil(void) {
    if (released_state != NULL || !Py_IsInitialized()) return 0;
    released_state = PyEval_SaveThread();
    return 1;
}
int pg_acquire_gil(void) {
    if (released_state == NULL) return 0;
    PyThreadState *state = released_state;
    released_state = NULL;
    PyEval_RestoreThread(state);
    return 1;
}
/* A request thread's first hold of the GIL (a thread state of its own). */
void pg_thread_begin(void) { (void)PyGILState_Ensure(); }
PyObject *pg_unicode_join(PyObject *separator, PyObject *list) { return PyUnicode_Join(separator, list); }
