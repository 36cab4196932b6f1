/* The floors: the least a tracer can cost with each hook CPython offers.
 *
 * - install()/uninstall(): PyEval_SetTrace with a C function that does nothing, the floor of a
 *   settrace-style tracer. Whatever a real tracer adds on top is the cost of its own per-event work.
 * - mon_none/mon_disable (3.12+): METH_FASTCALL builtins to register as sys.monitoring callbacks; they
 *   return None (the event keeps firing) or sys.monitoring.DISABLE (CPython stops reporting that location).
 *   They take any arguments, so one function serves PY_START, PY_RESUME, PY_RETURN, PY_YIELD and LINE.
 * - callgrind_toggle(): switches callgrind's event collection on or off around the timed region
 *   (bench/run.py --callgrind); a no-op outside valgrind or when valgrind's header was not found. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#if defined(__has_include)
#if __has_include(<valgrind/callgrind.h>)
#include <valgrind/callgrind.h>
#define HAVE_CALLGRIND 1
#endif
#endif

static int noop_trace(PyObject *obj, PyFrameObject *frame, int what, PyObject *arg) {
    (void)obj;
    (void)frame;
    (void)what;
    (void)arg;
    return 0;
}

static PyObject *install(PyObject *module, PyObject *unused) {
    (void)module;
    (void)unused;
    PyEval_SetTrace(noop_trace, NULL);
    Py_RETURN_NONE;
}

static PyObject *uninstall(PyObject *module, PyObject *unused) {
    (void)module;
    (void)unused;
    PyEval_SetTrace(NULL, NULL);
    Py_RETURN_NONE;
}

#if PY_VERSION_HEX >= 0x030C0000
/* sys.monitoring.DISABLE, looked up once at import so the callback does no work but returning it. */
static PyObject *monitoring_disable;

static PyObject *mon_none(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    (void)module;
    (void)args;
    (void)nargs;
    Py_RETURN_NONE;
}

static PyObject *mon_disable(PyObject *module, PyObject *const *args, Py_ssize_t nargs) {
    (void)module;
    (void)args;
    (void)nargs;
    return Py_NewRef(monitoring_disable);
}
#endif

static PyObject *callgrind_toggle(PyObject *module, PyObject *unused) {
    (void)module;
    (void)unused;
#ifdef HAVE_CALLGRIND
    CALLGRIND_TOGGLE_COLLECT;
    Py_RETURN_TRUE;
#else
    Py_RETURN_FALSE;
#endif
}

static PyMethodDef floortrace_methods[] = {
    {"install", install, METH_NOARGS, "Install the no-op C trace function on the current thread."},
    {"uninstall", uninstall, METH_NOARGS, "Remove the trace function of the current thread."},
#if PY_VERSION_HEX >= 0x030C0000
    {"mon_none", (PyCFunction)(void (*)(void))mon_none, METH_FASTCALL, "sys.monitoring callback returning None."},
    {"mon_disable", (PyCFunction)(void (*)(void))mon_disable, METH_FASTCALL,
     "sys.monitoring callback returning sys.monitoring.DISABLE."},
#endif
    {"callgrind_toggle", callgrind_toggle, METH_NOARGS,
     "Toggle callgrind's collection; returns False when built without valgrind/callgrind.h."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef floortrace_module = {
    PyModuleDef_HEAD_INIT, "_floortrace", "No-op hooks (benchmark floors) and a callgrind switch.", -1,
    floortrace_methods,
};

PyMODINIT_FUNC PyInit__floortrace(void) {
#if PY_VERSION_HEX >= 0x030C0000
    PyObject *sys_module = PyImport_ImportModule("sys");
    if (sys_module == NULL) {
        return NULL;
    }
    PyObject *namespace = PyObject_GetAttrString(sys_module, "monitoring");
    Py_DECREF(sys_module);
    if (namespace == NULL) {
        return NULL;
    }
    monitoring_disable = PyObject_GetAttrString(namespace, "DISABLE");
    Py_DECREF(namespace);
    if (monitoring_disable == NULL) {
        return NULL;
    }
#endif
    return PyModule_Create(&floortrace_module);
}
