/* The compiled AMI core: the hot loops of telephony/ami/codec.py, in C, with the same behaviour.
 *
 * codec.py stays the specification (and the fallback when this module does not build or does not
 * import): every function here mirrors one function there, line for line, and
 * tests/ami/test_codec_diff*.py runs both over the captures and over generated and mutated streams.
 *
 *   fill(buf, start, consumed, index, limit, keep)  ~ AmiCodec._fill_fast: split every complete
 *       "\r\n\r\n"-framed message at once, classify it, build the Frame objects; with a
 *       compiled interest as keep, "Event: " frames it does not keep are counted, not built.
 *       Returns None ("the careful path decides"), Ellipsis ("a Follows body: the Python fast
 *       path decides") or (items, new_pos, new_index, banner_or_None, errors_among_items,
 *       skipped).
 *   parse_headers(raw)                        ~ Frame._parse fast path: dict or None (the
 *       Python path then explains: non-UTF-8, a line without ": ").
 *   find(raw, name)                           ~ Frame.find.
 *   keeps(compiled, name, raw)                ~ Prefilter.keeps (an Interest as C lookups).
 *   rule_test(key, equals, prefixes, raw)     ~ HeaderRule.raw_test() (calls/interest.py).
 *   decoder(cls, fields)                      ~ events._make_decoder: a typed-event decoder
 *       built from the same field table (events.field_table, read from the dataclasses).
 *   time_of(clock, frame)                     ~ StreamClock.time_of (calls/clock.py).
 *
 * Frame objects are instances of codec.Frame (a __slots__ class), allocated here and their slots
 * filled through the slot offsets that setup() reads from the class's member descriptors, so one
 * Frame class serves both codecs.
 *
 * One compilation unit per part, sharing what _ccodec.h declares:
 *   _ccodec.c            this module: the shared state, setup(), the method table, PyInit.
 *   _ccodec_bytes.c      byte search (find_bytes) and header lines: parse_headers, find.
 *   _ccodec_frames.c     framing: fill, the first line (classify), event names.
 *   _ccodec_prefilter.c  keeps (with the rule cache) and rule_test.
 *   _ccodec_events.c     the typed-event decoder type: decoder.
 *   _ccodec_clock.c      the stream clock: time_of.
 * Shared functions and state are cc_-prefixed and hidden (only PyInit__ccodec is exported).
 */
#include "_ccodec.h"
#include <structmember.h>

/* The shared state, declared in _ccodec.h and set by setup(): codec.Frame, its slot offsets, the
 * four kinds and the two error factories of codec.py. */
PyTypeObject *cc_frame_type = NULL;
Py_ssize_t cc_off_raw, cc_off_kind, cc_off_name, cc_off_index, cc_off_offset, cc_off_received,
    cc_off_headers, cc_off_pairs;
PyObject *cc_kind_event = NULL, *cc_kind_response = NULL, *cc_kind_action = NULL,
         *cc_kind_banner = NULL;
PyObject *cc_make_oversized = NULL; /* (size, limit, offset, index) -> FrameTooLarge */
PyObject *cc_make_malformed = NULL; /* (raw, offset, index) -> MalformedFrame */

/* ---------------------------------------------------------------- setup */

int cc_slot_offset(PyObject *type, const char *name, Py_ssize_t *out) {
    PyObject *descr = PyObject_GetAttrString(type, name);
    if (descr == NULL) return -1;
    int ok = Py_IS_TYPE(descr, &PyMemberDescr_Type) &&
             ((PyMemberDescrObject *)descr)->d_member->type == T_OBJECT_EX;
    if (ok) *out = ((PyMemberDescrObject *)descr)->d_member->offset;
    Py_DECREF(descr);
    if (!ok) {
        PyErr_Format(PyExc_TypeError, "Frame.%s is not a __slots__ member", name);
        return -1;
    }
    return 0;
}

static PyObject *cc_setup(PyObject *self, PyObject *args) {
    PyObject *type, *ev, *resp, *act, *ban, *oversized, *malformed;
    if (!PyArg_ParseTuple(args, "O!OOOOOO", &PyType_Type, &type, &ev, &resp, &act, &ban,
                          &oversized, &malformed))
        return NULL;
    if (cc_slot_offset(type, "raw", &cc_off_raw) < 0 ||
        cc_slot_offset(type, "kind", &cc_off_kind) < 0 ||
        cc_slot_offset(type, "name", &cc_off_name) < 0 ||
        cc_slot_offset(type, "index", &cc_off_index) < 0 ||
        cc_slot_offset(type, "offset", &cc_off_offset) < 0 ||
        cc_slot_offset(type, "received_at", &cc_off_received) < 0 ||
        cc_slot_offset(type, "_headers", &cc_off_headers) < 0 ||
        cc_slot_offset(type, "_pairs", &cc_off_pairs) < 0)
        return NULL;
    Py_INCREF(type);
    Py_XSETREF(cc_frame_type, (PyTypeObject *)type);
    Py_XSETREF(cc_kind_event, Py_NewRef(ev));
    Py_XSETREF(cc_kind_response, Py_NewRef(resp));
    Py_XSETREF(cc_kind_action, Py_NewRef(act));
    Py_XSETREF(cc_kind_banner, Py_NewRef(ban));
    Py_XSETREF(cc_make_oversized, Py_NewRef(oversized));
    Py_XSETREF(cc_make_malformed, Py_NewRef(malformed));
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"setup", cc_setup, METH_VARARGS,
     "setup(Frame, EVENT, RESPONSE, ACTION, BANNER, oversized, malformed)"},
    {"fill", cc_fill, METH_VARARGS, "fill(buf, start, consumed, index, limit, keep=None)"},
    {"parse_headers", cc_parse_headers, METH_O, "parse_headers(raw) -> dict | None"},
    {"find", cc_find, METH_VARARGS, "find(raw, name) -> str | None"},
    {"keeps", cc_keeps, METH_VARARGS, "keeps(compiled, name, raw) -> bool"},
    {"rule_test", (PyCFunction)(void (*)(void))cc_rule_test, METH_FASTCALL,
     "rule_test(key, equals, prefixes, raw) -> bool"},
    {"decoder", cc_decoder, METH_VARARGS, "decoder(cls, fields) -> decode(frame, time)"},
    {"time_of", (PyCFunction)(void (*)(void))cc_time_of, METH_FASTCALL,
     "time_of(clock, frame) -> float | None"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_ccodec", "The compiled AMI core (see codec.py).", -1, methods,
};

PyMODINIT_FUNC PyInit__ccodec(void) {
    if (cc_events_init() < 0) return NULL;
    if (cc_clock_init() < 0) return NULL;
    return PyModule_Create(&module);
}
