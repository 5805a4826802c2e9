/* Part of the compiled AMI core (see _ccodec.c): the stream clock.
 *
 *   time_of(clock, frame) ~ StreamClock.time_of (telephony/calls/clock.py).
 */
#include "_ccodec.h"

/* ---------------------------------------------------------------- the stream clock
 *
 * time_of(clock, frame) ~ StreamClock.time_of (clock.py): Timestamp header, else the receive
 * stamp, else CEL EventTime / Cdr EndTime through clock.local_to_epoch (Python: zone, cache;
 * a text already in the clock's cache is read from it here),
 * never backwards, else the clock. clock.now is read and written as an attribute.
 */

static PyObject *str_now, *str_local_to_epoch, *str_cel, *str_cdr, *str_cache;

/* clock.local_to_epoch(text): its first step, the clock's own cache (clock._cache.get(text)),
 * done here, so that the CEL and Cdr of a second already seen cost a dict lookup, not a
 * Python call; a miss calls the method, which reads and fills that cache as always. */
static PyObject *local_to_epoch(PyObject *clock, PyObject *text) {
    PyObject *cache = PyObject_GetAttr(clock, str_cache);
    if (cache == NULL) {
        if (!PyErr_ExceptionMatches(PyExc_AttributeError)) return NULL;
        PyErr_Clear();
    } else {
        PyObject *value = PyDict_CheckExact(cache) ? PyDict_GetItemWithError(cache, text) : NULL;
        if (value != NULL && value != Py_None) {
            Py_INCREF(value);
            Py_DECREF(cache);
            return value;
        }
        Py_DECREF(cache);
        if (PyErr_Occurred()) return NULL;
    }
    return PyObject_CallMethodOneArg(clock, str_local_to_epoch, text);
}

static int set_now(PyObject *clock, PyObject *value) {
    return PyObject_SetAttr(clock, str_now, value);
}

PyObject *cc_time_of(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 2 || !PyObject_TypeCheck(args[1], cc_frame_type)) {
        PyErr_SetString(PyExc_TypeError, "time_of(clock, frame)");
        return NULL;
    }
    PyObject *clock = args[0], *frame = args[1];
    PyObject *raw = SLOT(frame, cc_off_raw);
    if (!PyBytes_Check(raw)) {
        PyErr_SetString(PyExc_TypeError, "time_of(): frame.raw is not bytes");
        return NULL;
    }
    const char *p = PyBytes_AS_STRING(raw);
    Py_ssize_t n = PyBytes_GET_SIZE(raw);
    PyObject *stamp = cc_find_value(p, n, "Timestamp", 9);
    if (stamp == NULL) return NULL;
    if (stamp != Py_None) {
        PyObject *value = PyFloat_FromString(stamp);
        Py_DECREF(stamp);
        if (value != NULL) {
            /* As clock.py: not NaN, inf, negative or beyond 9999-12-31 (_LATEST). */
            double v = PyFloat_AS_DOUBLE(value);
            if (v >= 0.0 && v < 253402300000.0) {
                if (set_now(clock, value) < 0) {
                    Py_DECREF(value);
                    return NULL;
                }
                return value;
            }
            Py_DECREF(value);
        } else {
            if (!PyErr_ExceptionMatches(PyExc_ValueError)) return NULL;
            PyErr_Clear();
        }
    } else {
        Py_DECREF(stamp);
    }
    PyObject *received = SLOT(frame, cc_off_received);
    if (received != NULL && received != Py_None) {
        if (set_now(clock, received) < 0) return NULL;
        return Py_NewRef(received);
    }
    PyObject *name = SLOT(frame, cc_off_name);
    const char *header = NULL;
    Py_ssize_t hlen = 0;
    if (PyUnicode_Check(name)) {
        int cel = PyUnicode_Compare(name, str_cel) == 0;
        if (!cel && PyUnicode_Compare(name, str_cdr) == 0) {
            header = "EndTime";
            hlen = 7;
        } else if (cel) {
            header = "EventTime";
            hlen = 9;
        }
        if (PyErr_Occurred()) return NULL;
    }
    if (header != NULL) {
        PyObject *text = cc_find_value(p, n, header, hlen);
        if (text == NULL) return NULL;
        if (text != Py_None && PyUnicode_GET_LENGTH(text) > 0) {
            PyObject *value = local_to_epoch(clock, text);
            Py_DECREF(text);
            if (value == NULL) return NULL;
            if (value != Py_None) {
                PyObject *now = PyObject_GetAttr(clock, str_now);
                if (now == NULL) {
                    Py_DECREF(value);
                    return NULL;
                }
                int later = now == Py_None ? 1 : PyObject_RichCompareBool(value, now, Py_GT);
                Py_DECREF(now);
                if (later < 0 || (later && set_now(clock, value) < 0)) {
                    Py_DECREF(value);
                    return NULL;
                }
            }
            Py_DECREF(value);
        } else {
            Py_DECREF(text);
        }
    }
    return PyObject_GetAttr(clock, str_now);
}

int cc_clock_init(void) {
    str_now = PyUnicode_InternFromString("now");
    str_local_to_epoch = PyUnicode_InternFromString("local_to_epoch");
    str_cel = PyUnicode_InternFromString("CEL");
    str_cdr = PyUnicode_InternFromString("Cdr");
    str_cache = PyUnicode_InternFromString("_cache");
    if (!str_now || !str_local_to_epoch || !str_cel || !str_cdr || !str_cache) return -1;
    return 0;
}
