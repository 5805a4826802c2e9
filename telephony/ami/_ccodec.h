/* What the compilation units of the compiled AMI core share (see _ccodec.c for the map: which
 * unit mirrors which part of telephony/ami/codec.py and its neighbours).
 *
 * Every shared symbol is cc_-prefixed and hidden: the extension exports only PyInit__ccodec.
 */
#ifndef HOTLINE_CCODEC_H
#define HOTLINE_CCODEC_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>

#if defined(__GNUC__)
#define CC_HIDDEN __attribute__((visibility("hidden")))
#else
#define CC_HIDDEN
#endif

/* ---------------------------------------------------------------- shared state (_ccodec.c)
 *
 * Set by setup(): codec.Frame, the offsets of its slots (read from its member descriptors), the
 * kinds EVENT, RESPONSE, ACTION, BANNER, and the error factories. */
CC_HIDDEN extern PyTypeObject *cc_frame_type;
CC_HIDDEN extern Py_ssize_t cc_off_raw, cc_off_kind, cc_off_name, cc_off_index, cc_off_offset,
    cc_off_received, cc_off_headers, cc_off_pairs;
CC_HIDDEN extern PyObject *cc_kind_event, *cc_kind_response, *cc_kind_action, *cc_kind_banner;
CC_HIDDEN extern PyObject *cc_make_oversized; /* (size, limit, offset, index) -> FrameTooLarge */
CC_HIDDEN extern PyObject *cc_make_malformed; /* (raw, offset, index) -> MalformedFrame */

/* A __slots__ member of obj, by the offset read from its descriptor. */
#define SLOT(obj, off) (*(PyObject **)((char *)(obj) + (off)))

/* The offset of type's __slots__ member name; 0, or -1 with TypeError. */
CC_HIDDEN int cc_slot_offset(PyObject *type, const char *name, Py_ssize_t *out);

/* ---------------------------------------------------------------- bytes (_ccodec_bytes.c) */

/* The first occurrence of needle in hay, like memmem; -1 if none. */
CC_HIDDEN Py_ssize_t cc_find_bytes(const char *hay, Py_ssize_t n, const char *needle,
                                   Py_ssize_t m);
/* Where the value of header name is in p: 1 found (*pos, *stop set), 0 not, -1 error. */
CC_HIDDEN int cc_find_span(const char *p, Py_ssize_t n, const char *name, Py_ssize_t m,
                           Py_ssize_t *pos, Py_ssize_t *stop);
/* ~ Frame.find: the value as str, None, or NULL on error. */
CC_HIDDEN PyObject *cc_find_value(const char *p, Py_ssize_t n, const char *name, Py_ssize_t m);
CC_HIDDEN PyObject *cc_parse_headers(PyObject *self, PyObject *arg);
CC_HIDDEN PyObject *cc_find(PyObject *self, PyObject *args);

/* ---------------------------------------------------------------- frames (_ccodec_frames.c) */

CC_HIDDEN PyObject *cc_fill(PyObject *self, PyObject *args);

/* -------------------------------------------------------- prefilter (_ccodec_prefilter.c) */

/* ~ Prefilter.keeps: 1 kept, 0 skipped, -1 error. */
CC_HIDDEN int cc_keeps_impl(PyObject *compiled, PyObject *name, const char *p, Py_ssize_t n);
CC_HIDDEN PyObject *cc_keeps(PyObject *self, PyObject *args);
CC_HIDDEN PyObject *cc_rule_test(PyObject *self, PyObject *const *args, Py_ssize_t nargs);

/* ------------------------------------------------------ typed events (_ccodec_events.c) */

CC_HIDDEN PyObject *cc_decoder(PyObject *self, PyObject *args);
CC_HIDDEN int cc_events_init(void); /* the Decoder type ready: 0, or -1 with an exception */

/* ------------------------------------------------------- stream clock (_ccodec_clock.c) */

CC_HIDDEN PyObject *cc_time_of(PyObject *self, PyObject *const *args, Py_ssize_t nargs);
CC_HIDDEN int cc_clock_init(void); /* interned attribute and event names: 0, or -1 */

#endif
