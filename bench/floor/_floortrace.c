/* The floor for a settrace-style tracer: PyEval_SetTrace with a C function that does nothing.
 * Whatever a real tracer adds on top of this is the cost of its own per-event work. */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

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

static PyMethodDef floortrace_methods[] = {
    {"install", install, METH_NOARGS, "Install the no-op C trace function on the current thread."},
    {"uninstall", uninstall, METH_NOARGS, "Remove the trace function of the current thread."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef floortrace_module = {
    PyModuleDef_HEAD_INIT, "_floortrace", "No-op C trace hook (benchmark floor).", -1, floortrace_methods,
};

PyMODINIT_FUNC PyInit__floortrace(void) {
    return PyModule_Create(&floortrace_module);
}
