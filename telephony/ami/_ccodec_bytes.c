/* Part of the compiled AMI core (see _ccodec.c): searching a raw frame's bytes and reading its
 * header lines.
 *
 *   find_bytes ~ bytes.find, used by every other part; parse_headers(raw) ~ Frame._parse's fast
 *   path; find(raw, name) ~ Frame.find (telephony/ami/frame.py).
 */
#include "_ccodec.h"
#include <string.h>

/* ---------------------------------------------------------------- byte search */

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

Py_ssize_t cc_find_bytes(const char *hay, Py_ssize_t n, const char *needle, Py_ssize_t m) {
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

/* ---------------------------------------------------------------- headers */

PyObject *cc_parse_headers(PyObject *self, PyObject *arg) {
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
        Py_ssize_t e = cc_find_bytes(p + start, n - start, sep, seplen);
        Py_ssize_t len = e < 0 ? n - start : e;
        const char *line = p + start;
        Py_ssize_t k = cc_find_bytes(line, len, ": ", 2);
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
int cc_find_span(const char *p, Py_ssize_t n, const char *name, Py_ssize_t m,
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
    Py_ssize_t at = cc_find_bytes(p, n, needle, m + 3);
    if (needle != small) PyMem_Free(needle);
    if (at < 0) return 0;
    *pos = at + m + 3;
    const char *end = memchr(p + *pos, '\n', (size_t)(n - *pos));
    *stop = end ? (Py_ssize_t)(end - p) : n;
    while (*stop > *pos && p[*stop - 1] == '\r') *stop -= 1;
    return 1;
}

PyObject *cc_find_value(const char *p, Py_ssize_t n, const char *name, Py_ssize_t m) {
    /* ~ Frame.find */
    Py_ssize_t pos, stop;
    int found = cc_find_span(p, n, name, m, &pos, &stop);
    if (found < 0) return NULL;
    if (!found) Py_RETURN_NONE;
    return PyUnicode_DecodeUTF8(p + pos, stop - pos, "replace");
}

PyObject *cc_find(PyObject *self, PyObject *args) {
    const char *p, *name;
    Py_ssize_t n, m;
    if (!PyArg_ParseTuple(args, "y#y#", &p, &n, &name, &m)) return NULL;
    return cc_find_value(p, n, name, m);
}
