/* Part of the compiled AMI core (see _ccodec.c): deciding on raw bytes whether a frame is wanted.
 *
 *   keeps(compiled, name, raw) ~ Prefilter.keeps (telephony/ami/prefilter.py; fill() calls
 *   keeps_impl for every "Event: " frame when it has a compiled interest);
 *   rule_test(key, equals, prefixes, raw) ~ HeaderRule.raw_test() (telephony/calls/interest.py).
 */
#include "_ccodec.h"
#include <string.h>
#include <stdint.h>

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

int cc_keeps_impl(PyObject *compiled, PyObject *name, const char *p, Py_ssize_t n) {
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
    int found =
        cc_find_span(p, n, PyBytes_AS_STRING(header), PyBytes_GET_SIZE(header), &pos, &stop);
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

PyObject *cc_keeps(PyObject *self, PyObject *args) {
    PyObject *compiled, *name, *raw;
    if (!PyArg_ParseTuple(args, "O!UO!", &PyTuple_Type, &compiled, &name, &PyBytes_Type, &raw))
        return NULL;
    if (PyTuple_GET_SIZE(compiled) != 2) {
        PyErr_SetString(PyExc_ValueError, "keeps(): compiled interest is (events, rules)");
        return NULL;
    }
    int ok = cc_keeps_impl(compiled, name, PyBytes_AS_STRING(raw), PyBytes_GET_SIZE(raw));
    if (ok < 0) return NULL;
    return Py_NewRef(ok ? Py_True : Py_False);
}

/* ---------------------------------------------------------------- a header rule on raw bytes
 *
 * rule_test(key, equals, prefixes, raw) ~ HeaderRule.raw_test(): key is b"\n" + header + b": ";
 * the value runs to the next "\n" with one trailing "\r" dropped, and is kept when it is in
 * equals (a frozenset of bytes) or starts with one of prefixes (a tuple of bytes).
 */
PyObject *cc_rule_test(PyObject *self, PyObject *const *args, Py_ssize_t nargs) {
    if (nargs != 4 || !PyBytes_Check(args[0]) || !PyAnySet_Check(args[1]) ||
        !PyTuple_Check(args[2]) || !PyBytes_Check(args[3])) {
        PyErr_SetString(PyExc_TypeError, "rule_test(key, equals, prefixes, raw)");
        return NULL;
    }
    const char *p = PyBytes_AS_STRING(args[3]);
    Py_ssize_t n = PyBytes_GET_SIZE(args[3]);
    Py_ssize_t klen = PyBytes_GET_SIZE(args[0]);
    Py_ssize_t pos = cc_find_bytes(p, n, PyBytes_AS_STRING(args[0]), klen);
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
