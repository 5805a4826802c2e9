/* Part of the compiled AMI core (see _ccodec.c): typed events.
 *
 *   decoder(cls, fields) ~ events._make_decoder (telephony/ami/events.py).
 */
#include "_ccodec.h"
#include <stddef.h>
#include <string.h>
#include <stdint.h>

/* ---------------------------------------------------------------- typed events
 *
 * decoder(cls, fields) -> a callable decode(frame, time) ~ the decoders events.py generates:
 * cls is a frozen __slots__ dataclass; fields is its table, generated in events.py from the
 * dataclass fields (the same table the Python decoders are generated from): a tuple of
 * (slot name, header names in order of preference, conversion) with conversion 0 str, 1 int,
 * 2 float, 3 the frame's whole header dict. The event is allocated here and its slots filled
 * through their offsets, as for Frame.
 */

#define MAX_NAMES 96
#define MAX_FIELDS 48
#define NAME_BUCKETS 64 /* a power of two */

typedef struct {
    Py_ssize_t offset;
    int conv;
    PyObject *headers; /* tuple of str */
} DecField;

typedef struct {
    PyObject_HEAD
    PyTypeObject *cls;
    Py_ssize_t off_name, off_time, off_index;
    Py_ssize_t n;
    DecField *fields;
    vectorcallfunc vectorcall;
    /* The scan path: every header name of every field, flattened (name j of field i). */
    int scan; /* 0: some field wants the whole dict, or too many names: the dict path */
    Py_ssize_t nnames;
    const char *names[MAX_NAMES];
    Py_ssize_t name_len[MAX_NAMES];
    Py_ssize_t first_name[MAX_FIELDS + 1]; /* field i's names: first_name[i] .. [i + 1] */
    /* The names by name_hash: bucket_head[h] is the first j (-1: none), bucket_next[j] the
     * next j in the same bucket, so a header line is compared with one or two names, not all. */
    int8_t bucket_head[NAME_BUCKETS];
    int8_t bucket_next[MAX_NAMES];
} DecoderObject;

/* A header name's bucket: its length, first and last bytes. */
static inline Py_ssize_t name_hash(const char *s, Py_ssize_t k) {
    if (k == 0) return 0;
    size_t h = (size_t)k * 7u + (size_t)(unsigned char)s[0] * 3u + (unsigned char)s[k - 1];
    return (Py_ssize_t)(h & (NAME_BUCKETS - 1));
}


/* The frame's header dict (borrowed from the frame), parsed and cached as Frame._parse does. */
static PyObject *frame_headers(PyObject *frame) {
    PyObject *headers = SLOT(frame, cc_off_headers);
    if (headers != NULL && headers != Py_None) return headers;
    PyObject *raw = SLOT(frame, cc_off_raw);
    PyObject *parsed = PyBytes_Check(raw) ? cc_parse_headers(NULL, raw) : Py_NewRef(Py_None);
    if (parsed == NULL) return NULL;
    if (parsed == Py_None) {
        /* Unusual frame: the Python property decides (slow path, MalformedFrame). */
        Py_DECREF(parsed);
        PyObject *got = PyObject_GetAttrString(frame, "headers");
        if (got == NULL) return NULL;
        Py_DECREF(got); /* the frame keeps it */
        return SLOT(frame, cc_off_headers);
    }
    Py_XSETREF(SLOT(frame, cc_off_headers), parsed);
    return parsed;
}

static PyObject *convert(PyObject *value, int conv) {
    PyObject *out;
    if (conv == 1) {
        out = PyLong_FromUnicodeObject(value, 10);
    } else if (conv == 2) {
        out = PyFloat_FromString(value);
    } else {
        return Py_NewRef(value);
    }
    if (out == NULL && PyErr_ExceptionMatches(PyExc_ValueError)) {
        PyErr_Clear();
        out = Py_NewRef(Py_None);
    }
    return out;
}

static inline int same_bytes(const char *a, const char *b, Py_ssize_t n) {
    for (Py_ssize_t i = 0; i < n; i++)
        if (a[i] != b[i]) return 0;
    return 1;
}

static int all_ascii(const char *p, Py_ssize_t n) {
    Py_ssize_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        if (w & 0x8080808080808080ULL) return 0;
    }
    for (; i < n; i++)
        if ((unsigned char)p[i] & 0x80) return 0;
    return 1;
}

/* ~ int(value) for what Asterisk sends: an optional "-" and 1-18 ASCII digits; anything else
 * goes through int() itself (PyLong_FromUnicodeObject: spaces, "+", "_", other digits). */
static PyObject *ascii_int(const char *p, Py_ssize_t n) {
    Py_ssize_t i = 0;
    int neg = 0;
    if (n > 0 && p[0] == '-') {
        neg = 1;
        i = 1;
    }
    if (n - i >= 1 && n - i <= 18) {
        long long v = 0;
        Py_ssize_t k = i;
        for (; k < n && p[k] >= '0' && p[k] <= '9'; k++) v = v * 10 + (p[k] - '0');
        if (k == n) return PyLong_FromLongLong(neg ? -v : v);
    }
    PyObject *text = PyUnicode_DecodeASCII(p, n, NULL);
    if (text == NULL) return NULL;
    PyObject *out = convert(text, 1);
    Py_DECREF(text);
    return out;
}

/* The scan path of decode: for an all-ASCII frame whose lines are all "Key: Value" (what
 * Frame.headers' fast path parses), the values of the wanted headers are read straight from
 * the bytes, the last of a repeated header winning as in the dict. Returns 0 when the frame
 * is not such a frame (the dict path decides), 1 when done, -1 on error. */
static int decode_scan(DecoderObject *d, PyObject *event, const char *p, Py_ssize_t n) {
    if (!all_ascii(p, n)) return 0;
    Py_ssize_t vstart[MAX_NAMES], vlen[MAX_NAMES];
    for (Py_ssize_t j = 0; j < d->nnames; j++) vstart[j] = -1;
    /* Lines end at "\r\n" when the frame has a "\r" anywhere, else at "\n" (as the dict path
     * splits them); each line's key ends at its first ": ". */
    int crlf = memchr(p, '\r', (size_t)n) != NULL;
    Py_ssize_t seplen = crlf ? 2 : 1;
    const char *end = p + n;
    Py_ssize_t start = 0;
    for (;;) {
        const char *line = p + start;
        Py_ssize_t e = -1; /* the separator's position in the line; -1: the last line */
        for (const char *q = line;;) {
            const char *nl = memchr(q, '\n', (size_t)(end - q));
            if (nl == NULL) break;
            if (!crlf) {
                e = nl - line;
                break;
            }
            if (nl > line && nl[-1] == '\r') {
                e = nl - 1 - line;
                break;
            }
            q = nl + 1;
        }
        Py_ssize_t len = e < 0 ? n - start : e;
        Py_ssize_t k = -1;
        for (const char *c = line, *stop = line + len;
             (c = memchr(c, ':', (size_t)(stop - c))) != NULL; c++) {
            if (c + 1 < stop && c[1] == ' ') {
                k = c - line;
                break;
            }
        }
        if (k < 0) return 0;
        for (int j = d->bucket_head[name_hash(line, k)]; j >= 0; j = d->bucket_next[j]) {
            if (d->name_len[j] == k && same_bytes(d->names[j], line, k)) {
                vstart[j] = start + k + 2;
                vlen[j] = len - k - 2;
            }
        }
        if (e < 0) break;
        start += e + seplen;
    }
    for (Py_ssize_t i = 0; i < d->n; i++) {
        DecField *f = &d->fields[i];
        Py_ssize_t hit = -1;
        for (Py_ssize_t j = d->first_name[i]; j < d->first_name[i + 1] && hit < 0; j++) {
            if (vstart[j] >= 0) hit = j;
        }
        PyObject *out;
        if (hit < 0) {
            out = Py_NewRef(Py_None);
        } else if (f->conv == 1) {
            out = ascii_int(p + vstart[hit], vlen[hit]);
        } else {
            PyObject *text = PyUnicode_New(vlen[hit], 127);
            if (text == NULL) return -1;
            memcpy(PyUnicode_DATA(text), p + vstart[hit], (size_t)vlen[hit]);
            if (f->conv == 2) {
                out = convert(text, 2);
                Py_DECREF(text);
            } else {
                out = text;
            }
        }
        if (out == NULL) return -1;
        SLOT(event, f->offset) = out;
    }
    return 1;
}

static PyObject *decoder_call(PyObject *callable, PyObject *const *args, size_t nargsf,
                              PyObject *kwnames) {
    DecoderObject *d = (DecoderObject *)callable;
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    if (nargs != 2 || (kwnames && PyTuple_GET_SIZE(kwnames))) {
        PyErr_SetString(PyExc_TypeError, "decode(frame, time)");
        return NULL;
    }
    PyObject *frame = args[0], *time = args[1];
    if (!PyObject_TypeCheck(frame, cc_frame_type)) {
        PyErr_SetString(PyExc_TypeError, "decode(): not a Frame");
        return NULL;
    }
    PyObject *raw = SLOT(frame, cc_off_raw);
    if (d->scan && PyBytes_Check(raw) && SLOT(frame, cc_off_headers) == Py_None) {
        PyObject *event = d->cls->tp_alloc(d->cls, 0);
        if (event == NULL) return NULL;
        int done = decode_scan(d, event, PyBytes_AS_STRING(raw), PyBytes_GET_SIZE(raw));
        if (done < 0) {
            Py_DECREF(event);
            return NULL;
        }
        if (done) {
            SLOT(event, d->off_name) = Py_NewRef(SLOT(frame, cc_off_name));
            SLOT(event, d->off_time) = Py_NewRef(time);
            SLOT(event, d->off_index) = Py_NewRef(SLOT(frame, cc_off_index));
            return event;
        }
        Py_DECREF(event);
    }
    PyObject *headers = frame_headers(frame);
    if (headers == NULL) return NULL;
    Py_INCREF(headers);
    PyObject *event = d->cls->tp_alloc(d->cls, 0);
    if (event == NULL) {
        Py_DECREF(headers);
        return NULL;
    }
    SLOT(event, d->off_name) = Py_NewRef(SLOT(frame, cc_off_name));
    SLOT(event, d->off_time) = Py_NewRef(time);
    SLOT(event, d->off_index) = Py_NewRef(SLOT(frame, cc_off_index));
    for (Py_ssize_t i = 0; i < d->n; i++) {
        DecField *f = &d->fields[i];
        PyObject *out;
        if (f->conv == 3) {
            out = Py_NewRef(headers);
        } else {
            PyObject *value = NULL;
            Py_ssize_t nh = PyTuple_GET_SIZE(f->headers);
            for (Py_ssize_t k = 0; k < nh && value == NULL; k++) {
                value = PyDict_GetItemWithError(headers, PyTuple_GET_ITEM(f->headers, k));
                if (value == NULL && PyErr_Occurred()) goto error;
            }
            out = value == NULL ? Py_NewRef(Py_None) : convert(value, f->conv);
            if (out == NULL) goto error;
        }
        SLOT(event, f->offset) = out;
    }
    Py_DECREF(headers);
    return event;
error:
    Py_DECREF(headers);
    Py_DECREF(event);
    return NULL;
}

static void decoder_dealloc(DecoderObject *d) {
    PyObject_GC_UnTrack(d);
    for (Py_ssize_t i = 0; i < d->n; i++) Py_XDECREF(d->fields[i].headers);
    PyMem_Free(d->fields);
    Py_XDECREF(d->cls);
    Py_TYPE(d)->tp_free((PyObject *)d);
}

static int decoder_traverse(DecoderObject *d, visitproc visit, void *arg) {
    Py_VISIT(d->cls);
    return 0;
}

static PyObject *decoder_repr(DecoderObject *d) {
    return PyUnicode_FromFormat("<compiled decoder of %s>", d->cls->tp_name);
}

static PyTypeObject DecoderType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "telephony.ami._ccodec.Decoder",
    .tp_basicsize = sizeof(DecoderObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL,
    .tp_vectorcall_offset = offsetof(DecoderObject, vectorcall),
    .tp_call = PyVectorcall_Call,
    .tp_dealloc = (destructor)decoder_dealloc,
    .tp_traverse = (traverseproc)decoder_traverse,
    .tp_repr = (reprfunc)decoder_repr,
};

PyObject *cc_decoder(PyObject *self, PyObject *args) {
    PyObject *cls, *fields;
    if (!PyArg_ParseTuple(args, "O!O!", &PyType_Type, &cls, &PyTuple_Type, &fields)) return NULL;
    if (cc_frame_type == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "_ccodec.setup() was not called");
        return NULL;
    }
    DecoderObject *d = PyObject_GC_New(DecoderObject, &DecoderType);
    if (d == NULL) return NULL;
    d->cls = (PyTypeObject *)Py_NewRef(cls);
    d->n = 0;
    d->fields = NULL;
    d->vectorcall = decoder_call;
    d->scan = 0;
    d->nnames = 0;
    Py_ssize_t n = PyTuple_GET_SIZE(fields);
    d->fields = PyMem_Calloc(n ? (size_t)n : 1, sizeof(DecField));
    if (d->fields == NULL) {
        PyErr_NoMemory();
        goto error;
    }
    if (cc_slot_offset(cls, "name", &d->off_name) < 0 ||
        cc_slot_offset(cls, "time", &d->off_time) < 0 ||
        cc_slot_offset(cls, "index", &d->off_index) < 0)
        goto error;
    for (Py_ssize_t i = 0; i < n; i++) {
        const char *slot;
        PyObject *headers;
        int conv;
        if (!PyArg_ParseTuple(PyTuple_GET_ITEM(fields, i), "sO!i", &slot, &PyTuple_Type, &headers,
                              &conv))
            goto error;
        if (conv < 0 || conv > 3) {
            PyErr_Format(PyExc_ValueError, "decoder(): conversion %d of %s", conv, slot);
            goto error;
        }
        for (Py_ssize_t k = 0; k < PyTuple_GET_SIZE(headers); k++) {
            if (!PyUnicode_CheckExact(PyTuple_GET_ITEM(headers, k))) {
                PyErr_SetString(PyExc_TypeError, "decoder(): header names are str");
                goto error;
            }
        }
        if (cc_slot_offset(cls, slot, &d->fields[i].offset) < 0) goto error;
        d->fields[i].conv = conv;
        d->fields[i].headers = Py_NewRef(headers);
        d->n = i + 1;
    }
    /* The scan path, when no field wants the dict and the names fit. Names point into the
     * header tuples' str objects (ASCII names only: compact, 1 byte per character). */
    int scan = n <= MAX_FIELDS;
    Py_ssize_t nn = 0;
    for (Py_ssize_t i = 0; i < n && scan; i++) {
        d->first_name[i] = nn;
        if (d->fields[i].conv == 3) scan = 0;
        PyObject *headers = d->fields[i].headers;
        for (Py_ssize_t k = 0; k < PyTuple_GET_SIZE(headers) && scan; k++) {
            PyObject *h = PyTuple_GET_ITEM(headers, k);
            if (nn >= MAX_NAMES || !PyUnicode_IS_ASCII(h)) {
                scan = 0;
                break;
            }
            d->names[nn] = (const char *)PyUnicode_DATA(h);
            d->name_len[nn] = PyUnicode_GET_LENGTH(h);
            nn++;
        }
    }
    if (scan) {
        d->first_name[n] = nn;
        d->nnames = nn;
        d->scan = 1;
        memset(d->bucket_head, -1, sizeof(d->bucket_head));
        for (Py_ssize_t j = 0; j < nn; j++) {
            Py_ssize_t h = name_hash(d->names[j], d->name_len[j]);
            d->bucket_next[j] = d->bucket_head[h];
            d->bucket_head[h] = (int8_t)j;
        }
    }
    /* Every slot of the class must be filled: name, time, index and the fields. */
    PyObject_GC_Track(d);
    return (PyObject *)d;
error:
    PyObject_GC_Track(d);
    Py_DECREF(d);
    return NULL;
}

int cc_events_init(void) {
    return PyType_Ready(&DecoderType);
}
