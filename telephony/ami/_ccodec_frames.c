/* Part of the compiled AMI core (see _ccodec.c): splitting the byte stream into frames.
 *
 *   fill(buf, start, consumed, index, limit, keep) ~ AmiCodec._fill_fast (telephony/ami/codec.py),
 *   with codec._classify for the first line; Frame objects are codec.Frame instances built
 *   through the slot offsets that setup() reads.
 */
#include "_ccodec.h"
#include <string.h>
#include <stdint.h>

static const char BANNER_PREFIX[] = "Asterisk Call Manager/";
#define BANNER_LEN (sizeof(BANNER_PREFIX) - 1)

/* ---------------------------------------------------------------- small byte helpers */

static Py_ssize_t rfind_crlfcrlf(const char *b, Py_ssize_t start, Py_ssize_t n) {
    for (Py_ssize_t i = n - 4; i >= start; i--) {
        if (b[i] == '\r' && b[i + 1] == '\n' && b[i + 2] == '\r' && b[i + 3] == '\n') return i;
    }
    return -1;
}

static int starts_with(const char *p, Py_ssize_t n, const char *prefix, Py_ssize_t m) {
    return n >= m && memcmp(p, prefix, (size_t)m) == 0;
}

static int is_space(char c) {
    /* bytes.strip() with no argument: ASCII whitespace */
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\x0b' || c == '\x0c';
}

/* ---------------------------------------------------------------- frames */


/* Steals raw and name. */
static PyObject *new_frame(PyObject *raw, PyObject *kind, PyObject *name, Py_ssize_t index,
                           Py_ssize_t offset) {
    PyObject *idx = PyLong_FromSsize_t(index);
    PyObject *off = PyLong_FromSsize_t(offset);
    PyObject *frame = (idx && off) ? cc_frame_type->tp_alloc(cc_frame_type, 0) : NULL;
    if (frame == NULL) {
        Py_XDECREF(idx);
        Py_XDECREF(off);
        Py_DECREF(raw);
        Py_DECREF(name);
        return NULL;
    }
    SLOT(frame, cc_off_raw) = raw;
    Py_INCREF(kind);
    SLOT(frame, cc_off_kind) = kind;
    SLOT(frame, cc_off_name) = name;
    SLOT(frame, cc_off_index) = idx;
    SLOT(frame, cc_off_offset) = off;
    Py_INCREF(Py_None);
    SLOT(frame, cc_off_received) = Py_None;
    Py_INCREF(Py_None);
    SLOT(frame, cc_off_headers) = Py_None;
    Py_INCREF(Py_None);
    SLOT(frame, cc_off_pairs) = Py_None;
    return frame;
}

/* ~ codec._classify: kind (borrowed) and name (new) from the first line; kind NULL: none. */
static int classify(const char *p, Py_ssize_t n, PyObject **kind, PyObject **name) {
    static const char *prefixes[3] = {"Event:", "Response:", "Action:"};
    static const char *lowered[3] = {"event:", "response:", "action:"};
    static const Py_ssize_t lens[3] = {6, 9, 7};
    PyObject *kinds[3] = {cc_kind_event, cc_kind_response, cc_kind_action};
    int found = -1;
    for (int i = 0; i < 3 && found < 0; i++) {
        if (starts_with(p, n, prefixes[i], lens[i])) found = i;
    }
    if (found < 0) {
        char head[10];
        Py_ssize_t h = n < 10 ? n : 10;
        for (Py_ssize_t i = 0; i < h; i++) {
            char c = p[i];
            head[i] = (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
        }
        for (int i = 0; i < 3 && found < 0; i++) {
            if (starts_with(head, h, lowered[i], lens[i])) found = i;
        }
    }
    if (found < 0) {
        *kind = NULL;
        *name = NULL;
        return 0;
    }
    const char *nl = memchr(p, '\n', (size_t)n);
    Py_ssize_t a = lens[found], b = nl ? (Py_ssize_t)(nl - p) : n;
    while (a < b && is_space(p[a])) a++;
    while (b > a && is_space(p[b - 1])) b--;
    *name = PyUnicode_DecodeUTF8(p + a, b - a, "replace");
    if (*name == NULL) return -1;
    *kind = kinds[found];
    return 0;
}

static PyObject *call_oversized(Py_ssize_t size, Py_ssize_t limit, Py_ssize_t offset,
                                Py_ssize_t index) {
    return PyObject_CallFunction(cc_make_oversized, "nnnn", size, limit, offset, index);
}

/* The name of an "Event: " frame, as PyUnicode_DecodeASCII(..., "replace") makes it; ASCII
 * names are kept in a small table so that the same name is one shared str (hash computed once)
 * rather than a new one per frame. */
#define NAME_CACHE 256
#define NAME_MAX_LEN 48
static struct {
    Py_ssize_t len;
    char buf[NAME_MAX_LEN];
    PyObject *str;
} name_cache[NAME_CACHE];

static PyObject *event_name(const char *p, Py_ssize_t n) {
    if (n > NAME_MAX_LEN) return PyUnicode_DecodeASCII(p, n, "replace");
    uint32_t h = 2166136261u;
    for (Py_ssize_t i = 0; i < n; i++) h = (h ^ (unsigned char)p[i]) * 16777619u;
    h ^= h >> 11;
    Py_ssize_t at = (Py_ssize_t)(h & (NAME_CACHE - 1));
    if (name_cache[at].str != NULL && name_cache[at].len == n &&
        memcmp(name_cache[at].buf, p, (size_t)n) == 0)
        return Py_NewRef(name_cache[at].str);
    PyObject *name = PyUnicode_DecodeASCII(p, n, "replace");
    if (name != NULL && PyUnicode_IS_ASCII(name)) {
        Py_XSETREF(name_cache[at].str, Py_NewRef(name));
        name_cache[at].len = n;
        memcpy(name_cache[at].buf, p, (size_t)n);
    }
    return name;
}

/* One part of the chunk: append its items; returns 0, or -1 with an exception set. */
static int fill_part(PyObject *items, const char *p, Py_ssize_t len, Py_ssize_t *offset,
                     Py_ssize_t *index, Py_ssize_t limit, PyObject **banner,
                     Py_ssize_t *errors, PyObject *keep, Py_ssize_t *skipped) {
    Py_ssize_t size = len + 4;
    PyObject *item;
    if (starts_with(p, len, "Event: ", 7)) {
        *index += 1;
        Py_ssize_t nl = cc_find_bytes(p, len, "\r\n", 2);
        Py_ssize_t end = nl >= 0 ? nl : len;
        if (len > limit) {
            *errors += 1;
            item = call_oversized(len, limit, *offset, *index);
        } else {
            PyObject *name = event_name(p + 7, end - 7);
            if (name == NULL) return -1;
            if (keep != Py_None) {
                int kept = cc_keeps_impl(keep, name, p, len);
                if (kept <= 0) {
                    Py_DECREF(name);
                    if (kept < 0) return -1;
                    *skipped += 1;
                    *offset += size;
                    return 0;
                }
            }
            PyObject *raw = PyBytes_FromStringAndSize(p, len);
            if (raw == NULL) {
                Py_DECREF(name);
                return -1;
            }
            item = new_frame(raw, cc_kind_event, name, *index, *offset);
        }
        if (item == NULL || PyList_Append(items, item) < 0) {
            Py_XDECREF(item);
            return -1;
        }
        Py_DECREF(item);
        *offset += size;
        return 0;
    }
    if (len == 0) {
        *offset += size;
        return 0;
    }
    if (p[0] == '\r' && len >= 2 && p[1] == '\n') {
        Py_ssize_t k = 0;
        while (k < len && (p[k] == '\r' || p[k] == '\n')) k++;
        *offset += k;
        size -= k;
        p += k;
        len -= k;
        if (len == 0) {
            *offset += size;
            return 0;
        }
    }
    if (starts_with(p, len, BANNER_PREFIX, BANNER_LEN)) {
        const char *nlp = memchr(p, '\n', (size_t)len);
        Py_ssize_t nl = nlp ? (Py_ssize_t)(nlp - p) : -1;
        Py_ssize_t line_end = nl < 0 ? len : nl;
        if (nl >= 0) {
            while (line_end > 0 && p[line_end - 1] == '\r') line_end--;
        }
        *index += 1;
        PyObject *name = PyUnicode_DecodeUTF8(p, line_end, "replace");
        PyObject *raw = name ? PyBytes_FromStringAndSize(p, line_end) : NULL;
        if (raw == NULL) {
            Py_XDECREF(name);
            return -1;
        }
        Py_INCREF(name);
        Py_XSETREF(*banner, name);
        item = new_frame(raw, cc_kind_banner, name, *index, *offset);
        if (item == NULL || PyList_Append(items, item) < 0) {
            Py_XDECREF(item);
            return -1;
        }
        Py_DECREF(item);
        if (nl < 0) {
            *offset += size;
            return 0;
        }
        *offset += nl + 1;
        size -= nl + 1;
        p += nl + 1;
        len -= nl + 1;
    }
    *index += 1;
    PyObject *kind, *name;
    if (classify(p, len, &kind, &name) < 0) return -1;
    if (len > limit) {
        Py_XDECREF(name);
        *errors += 1;
        item = call_oversized(len, limit, *offset, *index);
    } else if (kind == NULL) {
        *errors += 1;
        PyObject *raw = PyBytes_FromStringAndSize(p, len);
        if (raw == NULL) return -1;
        item = PyObject_CallFunction(cc_make_malformed, "Onn", raw, *offset, *index);
        Py_DECREF(raw);
    } else {
        PyObject *raw = PyBytes_FromStringAndSize(p, len);
        if (raw == NULL) {
            Py_DECREF(name);
            return -1;
        }
        item = new_frame(raw, kind, name, *index, *offset);
    }
    if (item == NULL || PyList_Append(items, item) < 0) {
        Py_XDECREF(item);
        return -1;
    }
    Py_DECREF(item);
    *offset += size;
    return 0;
}

PyObject *cc_fill(PyObject *self, PyObject *args) {
    Py_buffer view;
    Py_ssize_t start, consumed, index, limit;
    PyObject *keep = Py_None;
    if (!PyArg_ParseTuple(args, "y*nnnn|O", &view, &start, &consumed, &index, &limit, &keep))
        return NULL;
    if (keep != Py_None && (!PyTuple_Check(keep) || PyTuple_GET_SIZE(keep) != 2)) {
        PyBuffer_Release(&view);
        PyErr_SetString(PyExc_TypeError, "fill(): keep is None or a compiled interest");
        return NULL;
    }
    if (cc_frame_type == NULL) {
        PyBuffer_Release(&view);
        PyErr_SetString(PyExc_RuntimeError, "_ccodec.setup() was not called");
        return NULL;
    }
    const char *b = view.buf;
    Py_ssize_t n = view.len;
    PyObject *result = NULL, *items = NULL, *banner = NULL;
    Py_ssize_t last = start <= n ? rfind_crlfcrlf(b, start, n) : -1;
    if (last < 0) {
        result = Py_NewRef(Py_None);
        goto done;
    }
    const char *chunk = b + start;
    Py_ssize_t clen = last - start;
    if (cc_find_bytes(chunk, clen, "\n\n", 2) >= 0) {
        result = Py_NewRef(Py_None);
        goto done;
    }
    if (cc_find_bytes(chunk, clen, "Response: Follows", 17) >= 0) {
        result = Py_NewRef(Py_Ellipsis);
        goto done;
    }
    items = PyList_New(0);
    if (items == NULL) goto done;
    Py_ssize_t offset = consumed + start;
    Py_ssize_t pos = 0, errors = 0, skipped = 0;
    for (;;) {
        Py_ssize_t sep = cc_find_bytes(chunk + pos, clen - pos, "\r\n\r\n", 4);
        Py_ssize_t len = sep < 0 ? clen - pos : sep;
        if (fill_part(items, chunk + pos, len, &offset, &index, limit, &banner, &errors, keep,
                      &skipped) < 0)
            goto done;
        if (sep < 0) break;
        pos += sep + 4;
    }
    result = Py_BuildValue("(OnnOnn)", items, last + 4, index, banner ? banner : Py_None, errors,
                           skipped);
done:
    Py_XDECREF(items);
    Py_XDECREF(banner);
    PyBuffer_Release(&view);
    return result;
}
