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
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>
#include <string.h>
#include <stdint.h>

static PyTypeObject *frame_type = NULL;
static Py_ssize_t off_raw, off_kind, off_name, off_index, off_offset, off_received, off_headers,
    off_pairs;
static PyObject *kind_event = NULL, *kind_response = NULL, *kind_action = NULL,
                *kind_banner = NULL;
static PyObject *make_oversized = NULL; /* (size, limit, offset, index) -> FrameTooLarge */
static PyObject *make_malformed = NULL; /* (raw, offset, index) -> MalformedFrame */

static const char BANNER_PREFIX[] = "Asterisk Call Manager/";
#define BANNER_LEN (sizeof(BANNER_PREFIX) - 1)

/* ---------------------------------------------------------------- small byte helpers */

#if defined(__SSE2__)
#include <emmintrin.h>
/* needle of 2-4 bytes in a long haystack, 16 positions at a time: one unaligned load per
 * needle byte, shifted by its place; returns the first match or the first position not
 * examined (*done = 0) for the scalar loop to finish. */
static Py_ssize_t find_wide(const char *hay, Py_ssize_t n, const char *needle, Py_ssize_t m,
                            int *done) {
    __m128i b0 = _mm_set1_epi8(needle[0]), b1 = _mm_set1_epi8(needle[1]);
    __m128i b2 = _mm_set1_epi8(m > 2 ? needle[2] : 0), b3 = _mm_set1_epi8(m > 3 ? needle[3] : 0);
    Py_ssize_t i = 0;
    for (; i + 16 + 3 <= n; i += 16) {
        const char *q = hay + i;
        __m128i hit = _mm_and_si128(_mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)q), b0),
                                    _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(q + 1)), b1));
        if (m > 2)
            hit = _mm_and_si128(hit, _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(q + 2)), b2));
        if (m > 3)
            hit = _mm_and_si128(hit, _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(q + 3)), b3));
        int mask = _mm_movemask_epi8(hit);
        if (mask) {
            *done = 1;
            return i + __builtin_ctz((unsigned)mask);
        }
    }
    *done = 0;
    return i;
}
#endif

static Py_ssize_t find_bytes(const char *hay, Py_ssize_t n, const char *needle, Py_ssize_t m) {
    /* The first occurrence, like memmem. Long haystacks (a chunk, a frame) are scanned 16
     * bytes at a time for the needle's first 2-4 bytes, each candidate then checked whole
     * (header needles such as "\nVariable: " are longer); short ones (a line) memchr-driven,
     * where memmem's set-up would dominate. */
    if (m == 0) return 0;
    if (n < m) return -1;
    Py_ssize_t from = 0;
#if defined(__SSE2__)
    if (m >= 2 && n >= 64) {
        Py_ssize_t w = m < 4 ? m : 4;
        while (n - from >= 64) {
            int done;
            Py_ssize_t at = from + find_wide(hay + from, n - from, needle, w, &done);
            if (!done) {
                from = at;
                break;
            }
            if (at + m > n) return -1; /* later candidates fit even less */
            Py_ssize_t k = w;
            while (k < m && hay[at + k] == needle[k]) k++;
            if (k == m) return at;
            from = at + 1;
        }
    }
#endif
    const char *p = hay + from, *end = hay + n - m + 1; /* the last possible start + 1 */
    while (p < end) {
        p = memchr(p, needle[0], (size_t)(end - p));
        if (p == NULL) return -1;
        Py_ssize_t k = 1;
        while (k < m && p[k] == needle[k]) k++; /* inline: a libc call costs more for 1-3 */
        if (k == m) return (Py_ssize_t)(p - hay);
        p++;
    }
    return -1;
}

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

static PyObject *find_value(const char *p, Py_ssize_t n, const char *name, Py_ssize_t m);
static int keeps_impl(PyObject *compiled, PyObject *name, const char *p, Py_ssize_t n);

/* ---------------------------------------------------------------- frames */

#define SLOT(obj, off) (*(PyObject **)((char *)(obj) + (off)))

/* Steals raw and name. */
static PyObject *new_frame(PyObject *raw, PyObject *kind, PyObject *name, Py_ssize_t index,
                           Py_ssize_t offset) {
    PyObject *idx = PyLong_FromSsize_t(index);
    PyObject *off = PyLong_FromSsize_t(offset);
    PyObject *frame = (idx && off) ? frame_type->tp_alloc(frame_type, 0) : NULL;
    if (frame == NULL) {
        Py_XDECREF(idx);
        Py_XDECREF(off);
        Py_DECREF(raw);
        Py_DECREF(name);
        return NULL;
    }
    SLOT(frame, off_raw) = raw;
    Py_INCREF(kind);
    SLOT(frame, off_kind) = kind;
    SLOT(frame, off_name) = name;
    SLOT(frame, off_index) = idx;
    SLOT(frame, off_offset) = off;
    Py_INCREF(Py_None);
    SLOT(frame, off_received) = Py_None;
    Py_INCREF(Py_None);
    SLOT(frame, off_headers) = Py_None;
    Py_INCREF(Py_None);
    SLOT(frame, off_pairs) = Py_None;
    return frame;
}

/* ~ codec._classify: kind (borrowed) and name (new) from the first line; kind NULL: none. */
static int classify(const char *p, Py_ssize_t n, PyObject **kind, PyObject **name) {
    static const char *prefixes[3] = {"Event:", "Response:", "Action:"};
    static const char *lowered[3] = {"event:", "response:", "action:"};
    static const Py_ssize_t lens[3] = {6, 9, 7};
    PyObject *kinds[3] = {kind_event, kind_response, kind_action};
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
    return PyObject_CallFunction(make_oversized, "nnnn", size, limit, offset, index);
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
        Py_ssize_t nl = find_bytes(p, len, "\r\n", 2);
        Py_ssize_t end = nl >= 0 ? nl : len;
        if (len > limit) {
            *errors += 1;
            item = call_oversized(len, limit, *offset, *index);
        } else {
            PyObject *name = event_name(p + 7, end - 7);
            if (name == NULL) return -1;
            if (keep != Py_None) {
                int kept = keeps_impl(keep, name, p, len);
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
            item = new_frame(raw, kind_event, name, *index, *offset);
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
        item = new_frame(raw, kind_banner, name, *index, *offset);
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
        item = PyObject_CallFunction(make_malformed, "Onn", raw, *offset, *index);
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

static PyObject *cc_fill(PyObject *self, PyObject *args) {
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
    if (frame_type == NULL) {
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
    if (find_bytes(chunk, clen, "\n\n", 2) >= 0) {
        result = Py_NewRef(Py_None);
        goto done;
    }
    if (find_bytes(chunk, clen, "Response: Follows", 17) >= 0) {
        result = Py_NewRef(Py_Ellipsis);
        goto done;
    }
    items = PyList_New(0);
    if (items == NULL) goto done;
    Py_ssize_t offset = consumed + start;
    Py_ssize_t pos = 0, errors = 0, skipped = 0;
    for (;;) {
        Py_ssize_t sep = find_bytes(chunk + pos, clen - pos, "\r\n\r\n", 4);
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

/* ---------------------------------------------------------------- headers */

static PyObject *cc_parse_headers(PyObject *self, PyObject *arg) {
    if (!PyBytes_Check(arg)) {
        PyErr_SetString(PyExc_TypeError, "parse_headers() wants bytes");
        return NULL;
    }
    const char *p = PyBytes_AS_STRING(arg);
    Py_ssize_t n = PyBytes_GET_SIZE(arg);
    int crlf = memchr(p, '\r', (size_t)n) != NULL;
    const char *sep = crlf ? "\r\n" : "\n";
    Py_ssize_t seplen = crlf ? 2 : 1;
    PyObject *headers = PyDict_New();
    if (headers == NULL) return NULL;
    Py_ssize_t start = 0;
    for (;;) {
        Py_ssize_t e = find_bytes(p + start, n - start, sep, seplen);
        Py_ssize_t len = e < 0 ? n - start : e;
        const char *line = p + start;
        Py_ssize_t k = find_bytes(line, len, ": ", 2);
        if (k < 0) goto fallback;
        PyObject *key = PyUnicode_DecodeUTF8(line, k, NULL);
        if (key == NULL) goto fallback_error;
        PyObject *value = PyUnicode_DecodeUTF8(line + k + 2, len - k - 2, NULL);
        if (value == NULL) {
            Py_DECREF(key);
            goto fallback_error;
        }
        int rc = PyDict_SetItem(headers, key, value);
        Py_DECREF(key);
        Py_DECREF(value);
        if (rc < 0) {
            Py_DECREF(headers);
            return NULL;
        }
        if (e < 0) break;
        start += e + seplen;
    }
    return headers;
fallback_error:
    if (!PyErr_ExceptionMatches(PyExc_UnicodeDecodeError)) {
        Py_DECREF(headers);
        return NULL;
    }
    PyErr_Clear();
fallback:
    Py_DECREF(headers);
    Py_RETURN_NONE;
}

/* Where the value of header name is in p: the first line that starts with name + ": ", searched
 * as one needle "\n" + name + ": "; the value runs to the "\n", trailing "\r"s dropped.
 * 1 found (*pos, *stop set), 0 not, -1 error. */
static int find_span(const char *p, Py_ssize_t n, const char *name, Py_ssize_t m,
                     Py_ssize_t *pos, Py_ssize_t *stop) {
    char small[64];
    char *needle = small;
    if (m + 3 > (Py_ssize_t)sizeof(small)) {
        needle = PyMem_Malloc((size_t)m + 3);
        if (needle == NULL) {
            PyErr_NoMemory();
            return -1;
        }
    }
    needle[0] = '\n';
    memcpy(needle + 1, name, (size_t)m);
    needle[m + 1] = ':';
    needle[m + 2] = ' ';
    Py_ssize_t at = find_bytes(p, n, needle, m + 3);
    if (needle != small) PyMem_Free(needle);
    if (at < 0) return 0;
    *pos = at + m + 3;
    const char *end = memchr(p + *pos, '\n', (size_t)(n - *pos));
    *stop = end ? (Py_ssize_t)(end - p) : n;
    while (*stop > *pos && p[*stop - 1] == '\r') *stop -= 1;
    return 1;
}

static PyObject *find_value(const char *p, Py_ssize_t n, const char *name, Py_ssize_t m) {
    /* ~ Frame.find */
    Py_ssize_t pos, stop;
    int found = find_span(p, n, name, m, &pos, &stop);
    if (found < 0) return NULL;
    if (!found) Py_RETURN_NONE;
    return PyUnicode_DecodeUTF8(p + pos, stop - pos, "replace");
}

static PyObject *cc_find(PyObject *self, PyObject *args) {
    const char *p, *name;
    Py_ssize_t n, m;
    if (!PyArg_ParseTuple(args, "y#y#", &p, &n, &name, &m)) return NULL;
    return find_value(p, n, name, m);
}

/* ---------------------------------------------------------------- prefilter */

/* compiled = (events: frozenset[str], rules: dict[str, (header: bytes, equals: frozenset[str],
 * prefixes: tuple[str, ...])]) */
/* 1 kept, 0 skipped, -1 error. */
/* A rule's decision on a header value is a pure function of the rule (an immutable tuple, held
 * here so that its address is not reused; its equals a frozenset, its prefixes a tuple) and the
 * value's bytes: remembered for short values, since the chatty events repeat a few dozen
 * variable names and contexts. The decision itself decodes the value and looks it up in the
 * rule's set of str. */
#define RULE_CACHE 512
#define RULE_VALUE_MAX 48
typedef struct {
    PyObject *rule;
    Py_ssize_t len;
    int kept;
    char buf[RULE_VALUE_MAX];
} RuleCacheEntry;
static RuleCacheEntry rule_cache[RULE_CACHE];

static int rule_decides(PyObject *equals, PyObject *prefixes, const char *v, Py_ssize_t len) {
    PyObject *value = PyUnicode_DecodeUTF8(v, len, "replace");
    if (value == NULL) return -1;
    int ok = PySet_Contains(equals, value);
    for (Py_ssize_t i = 0; ok == 0 && i < PyTuple_GET_SIZE(prefixes); i++) {
        Py_ssize_t hit = PyUnicode_Tailmatch(value, PyTuple_GET_ITEM(prefixes, i), 0,
                                             PY_SSIZE_T_MAX, -1);
        ok = hit < 0 ? -1 : (int)hit;
    }
    Py_DECREF(value);
    return ok;
}

static int keeps_impl(PyObject *compiled, PyObject *name, const char *p, Py_ssize_t n) {
    PyObject *events = PyTuple_GET_ITEM(compiled, 0);
    PyObject *rules = PyTuple_GET_ITEM(compiled, 1);
    int in = PySet_Contains(events, name);
    if (in <= 0) return in;
    PyObject *rule = PyDict_GetItemWithError(rules, name);
    if (rule == NULL) return PyErr_Occurred() ? -1 : 1;
    /* (header, equals, prefixes), read directly: PyArg_ParseTuple here cost as much as the
     * rest of the decision, which runs for every frame of the chatty VarSet and Newexten. */
    if (!PyTuple_CheckExact(rule) || PyTuple_GET_SIZE(rule) != 3 ||
        !PyBytes_Check(PyTuple_GET_ITEM(rule, 0)) || !PyTuple_Check(PyTuple_GET_ITEM(rule, 2))) {
        PyErr_SetString(PyExc_TypeError, "keeps(): a rule is (header, equals, prefixes)");
        return -1;
    }
    PyObject *header = PyTuple_GET_ITEM(rule, 0);
    Py_ssize_t pos, stop;
    int found = find_span(p, n, PyBytes_AS_STRING(header), PyBytes_GET_SIZE(header), &pos, &stop);
    if (found <= 0) return found; /* no such header: not kept */
    const char *v = p + pos;
    Py_ssize_t len = stop - pos;
    if (len > RULE_VALUE_MAX || !PyFrozenSet_CheckExact(PyTuple_GET_ITEM(rule, 1)))
        return rule_decides(PyTuple_GET_ITEM(rule, 1), PyTuple_GET_ITEM(rule, 2), v, len);
    uint32_t h = 2166136261u ^ (uint32_t)((uintptr_t)rule >> 4);
    for (Py_ssize_t i = 0; i < len; i++) h = (h ^ (unsigned char)v[i]) * 16777619u;
    h ^= h >> 13;
    RuleCacheEntry *entry = &rule_cache[h & (RULE_CACHE - 1)];
    if (entry->rule == rule && entry->len == len && memcmp(entry->buf, v, (size_t)len) == 0)
        return entry->kept;
    int kept = rule_decides(PyTuple_GET_ITEM(rule, 1), PyTuple_GET_ITEM(rule, 2), v, len);
    if (kept >= 0) {
        Py_XSETREF(entry->rule, Py_NewRef(rule));
        entry->len = len;
        entry->kept = kept;
        memcpy(entry->buf, v, (size_t)len);
    }
    return kept;
}

static PyObject *cc_keeps(PyObject *self, PyObject *args) {
    PyObject *compiled, *name, *raw;
    if (!PyArg_ParseTuple(args, "O!UO!", &PyTuple_Type, &compiled, &name, &PyBytes_Type, &raw))
        return NULL;
    if (PyTuple_GET_SIZE(compiled) != 2) {
        PyErr_SetString(PyExc_ValueError, "keeps(): compiled interest is (events, rules)");
        return NULL;
    }
    int ok = keeps_impl(compiled, name, PyBytes_AS_STRING(raw), PyBytes_GET_SIZE(raw));
    if (ok < 0) return NULL;
    return Py_NewRef(ok ? Py_True : Py_False);
}


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
} DecoderObject;

static int slot_offset(PyObject *type, const char *name, Py_ssize_t *out);

/* The frame's header dict (borrowed from the frame), parsed and cached as Frame._parse does. */
static PyObject *frame_headers(PyObject *frame) {
    PyObject *headers = SLOT(frame, off_headers);
    if (headers != NULL && headers != Py_None) return headers;
    PyObject *raw = SLOT(frame, off_raw);
    PyObject *parsed = PyBytes_Check(raw) ? cc_parse_headers(NULL, raw) : Py_NewRef(Py_None);
    if (parsed == NULL) return NULL;
    if (parsed == Py_None) {
        /* Unusual frame: the Python property decides (slow path, MalformedFrame). */
        Py_DECREF(parsed);
        PyObject *got = PyObject_GetAttrString(frame, "headers");
        if (got == NULL) return NULL;
        Py_DECREF(got); /* the frame keeps it */
        return SLOT(frame, off_headers);
    }
    Py_XSETREF(SLOT(frame, off_headers), parsed);
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
    int crlf = memchr(p, '\r', (size_t)n) != NULL;
    const char *sep = crlf ? "\r\n" : "\n";
    Py_ssize_t seplen = crlf ? 2 : 1;
    Py_ssize_t start = 0;
    for (;;) {
        Py_ssize_t e = find_bytes(p + start, n - start, sep, seplen);
        Py_ssize_t len = e < 0 ? n - start : e;
        const char *line = p + start;
        Py_ssize_t k = find_bytes(line, len, ": ", 2);
        if (k < 0) return 0;
        for (Py_ssize_t j = 0; j < d->nnames; j++) {
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
    if (!PyObject_TypeCheck(frame, frame_type)) {
        PyErr_SetString(PyExc_TypeError, "decode(): not a Frame");
        return NULL;
    }
    PyObject *raw = SLOT(frame, off_raw);
    if (d->scan && PyBytes_Check(raw) && SLOT(frame, off_headers) == Py_None) {
        PyObject *event = d->cls->tp_alloc(d->cls, 0);
        if (event == NULL) return NULL;
        int done = decode_scan(d, event, PyBytes_AS_STRING(raw), PyBytes_GET_SIZE(raw));
        if (done < 0) {
            Py_DECREF(event);
            return NULL;
        }
        if (done) {
            SLOT(event, d->off_name) = Py_NewRef(SLOT(frame, off_name));
            SLOT(event, d->off_time) = Py_NewRef(time);
            SLOT(event, d->off_index) = Py_NewRef(SLOT(frame, off_index));
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
    SLOT(event, d->off_name) = Py_NewRef(SLOT(frame, off_name));
    SLOT(event, d->off_time) = Py_NewRef(time);
    SLOT(event, d->off_index) = Py_NewRef(SLOT(frame, off_index));
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

static PyObject *cc_decoder(PyObject *self, PyObject *args) {
    PyObject *cls, *fields;
    if (!PyArg_ParseTuple(args, "O!O!", &PyType_Type, &cls, &PyTuple_Type, &fields)) return NULL;
    if (frame_type == NULL) {
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
    if (slot_offset(cls, "name", &d->off_name) < 0 || slot_offset(cls, "time", &d->off_time) < 0 ||
        slot_offset(cls, "index", &d->off_index) < 0)
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
        if (slot_offset(cls, slot, &d->fields[i].offset) < 0) goto error;
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
    }
    /* Every slot of the class must be filled: name, time, index and the fields. */
    PyObject_GC_Track(d);
    return (PyObject *)d;
error:
    PyObject_GC_Track(d);
    Py_DECREF(d);
    return NULL;
}

/* ---------------------------------------------------------------- the stream clock
 *
 * time_of(clock, frame) ~ StreamClock.time_of (clock.py): Timestamp header, else the receive
 * stamp, else CEL EventTime / Cdr EndTime through clock.local_to_epoch (Python: zone, cache),
 * never backwards, else the clock. clock.now is read and written as an attribute.
 */

static PyObject *str_now, *str_local_to_epoch, *str_cel, *str_cdr;

static int set_now(PyObject *clock, PyObject *value) {
    return PyObject_SetAttr(clock, str_now, value);
}

static PyObject *cc_time_of(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 2 || !PyObject_TypeCheck(args[1], frame_type)) {
        PyErr_SetString(PyExc_TypeError, "time_of(clock, frame)");
        return NULL;
    }
    PyObject *clock = args[0], *frame = args[1];
    PyObject *raw = SLOT(frame, off_raw);
    if (!PyBytes_Check(raw)) {
        PyErr_SetString(PyExc_TypeError, "time_of(): frame.raw is not bytes");
        return NULL;
    }
    const char *p = PyBytes_AS_STRING(raw);
    Py_ssize_t n = PyBytes_GET_SIZE(raw);
    PyObject *stamp = find_value(p, n, "Timestamp", 9);
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
    PyObject *received = SLOT(frame, off_received);
    if (received != NULL && received != Py_None) {
        if (set_now(clock, received) < 0) return NULL;
        return Py_NewRef(received);
    }
    PyObject *name = SLOT(frame, off_name);
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
        PyObject *text = find_value(p, n, header, hlen);
        if (text == NULL) return NULL;
        if (text != Py_None && PyUnicode_GET_LENGTH(text) > 0) {
            PyObject *value = PyObject_CallMethodOneArg(clock, str_local_to_epoch, text);
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


/* ---------------------------------------------------------------- a header rule on raw bytes
 *
 * rule_test(key, equals, prefixes, raw) ~ HeaderRule.raw_test(): key is b"\n" + header + b": ";
 * the value runs to the next "\n" with one trailing "\r" dropped, and is kept when it is in
 * equals (a frozenset of bytes) or starts with one of prefixes (a tuple of bytes).
 */
static PyObject *cc_rule_test(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 4 || !PyBytes_Check(args[0]) || !PyAnySet_Check(args[1]) ||
        !PyTuple_Check(args[2]) || !PyBytes_Check(args[3])) {
        PyErr_SetString(PyExc_TypeError, "rule_test(key, equals, prefixes, raw)");
        return NULL;
    }
    const char *p = PyBytes_AS_STRING(args[3]);
    Py_ssize_t n = PyBytes_GET_SIZE(args[3]);
    Py_ssize_t klen = PyBytes_GET_SIZE(args[0]);
    Py_ssize_t pos = find_bytes(p, n, PyBytes_AS_STRING(args[0]), klen);
    if (pos < 0) Py_RETURN_FALSE;
    pos += klen;
    const char *nl = memchr(p + pos, '\n', (size_t)(n - pos));
    Py_ssize_t end = nl ? (Py_ssize_t)(nl - p) : n;
    if (end > pos && p[end - 1] == '\r') end--;
    Py_ssize_t vlen = end - pos;
    PyObject *prefixes = args[2];
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(prefixes); i++) {
        PyObject *prefix = PyTuple_GET_ITEM(prefixes, i);
        if (!PyBytes_Check(prefix)) {
            PyErr_SetString(PyExc_TypeError, "rule_test(): prefixes are bytes");
            return NULL;
        }
        Py_ssize_t m = PyBytes_GET_SIZE(prefix);
        if (m <= vlen && memcmp(p + pos, PyBytes_AS_STRING(prefix), (size_t)m) == 0)
            Py_RETURN_TRUE;
    }
    if (PySet_GET_SIZE(args[1]) == 0) Py_RETURN_FALSE;
    PyObject *value = PyBytes_FromStringAndSize(p + pos, vlen);
    if (value == NULL) return NULL;
    int in = PySet_Contains(args[1], value);
    Py_DECREF(value);
    if (in < 0) return NULL;
    return Py_NewRef(in ? Py_True : Py_False);
}

/* ---------------------------------------------------------------- setup */

static int slot_offset(PyObject *type, const char *name, Py_ssize_t *out) {
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
    if (slot_offset(type, "raw", &off_raw) < 0 || slot_offset(type, "kind", &off_kind) < 0 ||
        slot_offset(type, "name", &off_name) < 0 || slot_offset(type, "index", &off_index) < 0 ||
        slot_offset(type, "offset", &off_offset) < 0 ||
        slot_offset(type, "received_at", &off_received) < 0 ||
        slot_offset(type, "_headers", &off_headers) < 0 ||
        slot_offset(type, "_pairs", &off_pairs) < 0)
        return NULL;
    Py_INCREF(type);
    Py_XSETREF(frame_type, (PyTypeObject *)type);
    Py_XSETREF(kind_event, Py_NewRef(ev));
    Py_XSETREF(kind_response, Py_NewRef(resp));
    Py_XSETREF(kind_action, Py_NewRef(act));
    Py_XSETREF(kind_banner, Py_NewRef(ban));
    Py_XSETREF(make_oversized, Py_NewRef(oversized));
    Py_XSETREF(make_malformed, Py_NewRef(malformed));
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
    if (PyType_Ready(&DecoderType) < 0) return NULL;
    str_now = PyUnicode_InternFromString("now");
    str_local_to_epoch = PyUnicode_InternFromString("local_to_epoch");
    str_cel = PyUnicode_InternFromString("CEL");
    str_cdr = PyUnicode_InternFromString("Cdr");
    if (!str_now || !str_local_to_epoch || !str_cel || !str_cdr) return NULL;
    return PyModule_Create(&module);
}
