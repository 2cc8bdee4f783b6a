/* Business-span fields read straight from ExportTraceServiceRequest protobuf bytes.
 *
 * The receiver's request path used to parse each body with upb into the lean request of
 * traces/wire.py and walk it in Python (~5 us per span). This reader walks the wire format once
 * and hands Python one tuple per span holding only what traces/records.py routes on.
 *
 * It is a shortcut, never a second opinion: whenever it cannot vouch that upb would read the
 * body the same way (any malformed length, varint, tag or UTF-8 string, a group, a known field
 * with an unexpected wire type, deep nesting), it returns None and Python takes the upb path,
 * which accepts the body or raises today's MalformedPayload with today's message. So the reader
 * must be at least as strict as upb, and may be stricter.
 *
 * Field numbers: opentelemetry/proto/trace/v1/trace.proto and common/v1/common.proto, the same
 * fields traces/wire.py declares. Merge rules follow protobuf: a repeated singular field keeps
 * its last value, a repeated message field merges, a map keeps the last entry of a key.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define WT_VARINT 0
#define WT_I64 1
#define WT_LEN 2
#define WT_I32 5
/* upb refuses nesting deeper than 100 messages; stopping well before keeps the reader stricter. */
#define MAX_DEPTH 48
#define MAX_KEYS 64
#define RECORD_FIXED 6 /* service, name, ident, at, failed, error reason */

typedef struct {
    const uint8_t *p;
    const uint8_t *end;
} Buf;

/* AnyValue's oneof as _text renders it: only these kinds have a text. */
enum { K_NONE = 0, K_STRING, K_BOOL, K_INT, K_DOUBLE, K_OTHER };

typedef struct {
    int kind;
    const uint8_t *s;
    Py_ssize_t n;
    uint64_t bits; /* bool, int or double, as on the wire */
} Any;

typedef struct {
    Py_ssize_t count;
    const char *key[MAX_KEYS];
    Py_ssize_t len[MAX_KEYS];
} Keys;

/* ---- wire primitives: each returns 0, or -1 when the reader gives up ---- */

static int varint(Buf *b, uint64_t *out, int max_bytes) {
    uint64_t v = 0;
    for (int i = 0; i < max_bytes; i++) {
        if (b->p >= b->end)
            return -1;
        uint8_t byte = *b->p++;
        if (i == 9 && byte > 1)
            return -1; /* more than 64 bits */
        v |= (uint64_t)(byte & 0x7f) << (7 * i);
        if (!(byte & 0x80)) {
            *out = v;
            return 0;
        }
    }
    return -1;
}

static int tag(Buf *b, uint32_t *field, int *wire) {
    uint64_t t;
    if (varint(b, &t, 5) < 0 || t > UINT32_MAX || (t >> 3) == 0)
        return -1;
    *field = (uint32_t)(t >> 3);
    *wire = (int)(t & 7);
    return 0;
}

static int sub(Buf *b, Buf *out) {
    uint64_t n;
    if (varint(b, &n, 5) < 0 || n > (uint64_t)INT32_MAX || n > (uint64_t)(b->end - b->p))
        return -1;
    out->p = b->p;
    out->end = b->p + n;
    b->p += n;
    return 0;
}

static int fixed64(Buf *b, uint64_t *out) {
    if (b->end - b->p < 8)
        return -1;
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | b->p[i];
    b->p += 8;
    *out = v;
    return 0;
}

/* An unknown field: skipped, but its framing must be sound. Groups are left to upb. */
static int skip(Buf *b, int wire) {
    uint64_t v;
    Buf s;
    switch (wire) {
    case WT_VARINT:
        return varint(b, &v, 10);
    case WT_I64:
        return fixed64(b, &v);
    case WT_LEN:
        return sub(b, &s);
    case WT_I32:
        if (b->end - b->p < 4)
            return -1;
        b->p += 4;
        return 0;
    default:
        return -1;
    }
}

/* Well-formed UTF-8 (Unicode table 3-7: no overlongs, surrogates or code points past U+10FFFF). */
static int utf8_ok(const uint8_t *s, Py_ssize_t n) {
    Py_ssize_t i = 0;
    while (i < n) {
        uint8_t c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        Py_ssize_t need;
        uint8_t lo = 0x80, hi = 0xbf;
        if (c >= 0xc2 && c <= 0xdf)
            need = 1;
        else if (c >= 0xe0 && c <= 0xef) {
            need = 2;
            if (c == 0xe0)
                lo = 0xa0;
            else if (c == 0xed)
                hi = 0x9f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            need = 3;
            if (c == 0xf0)
                lo = 0x90;
            else if (c == 0xf4)
                hi = 0x8f;
        } else
            return 0;
        if (n - i <= need)
            return 0;
        if (s[i + 1] < lo || s[i + 1] > hi)
            return 0;
        for (Py_ssize_t k = 2; k <= need; k++)
            if ((s[i + k] & 0xc0) != 0x80)
                return 0;
        i += need + 1;
    }
    return 1;
}

static int string(Buf *b, int wire, const uint8_t **s, Py_ssize_t *n) {
    Buf v;
    if (wire != WT_LEN || sub(b, &v) < 0 || !utf8_ok(v.p, v.end - v.p))
        return -1;
    *s = v.p;
    *n = v.end - v.p;
    return 0;
}

/* ---- OTLP common.proto ---- */

static int key_value(Buf b, int depth, const uint8_t **key, Py_ssize_t *key_len, Any *value);

/* AnyValue, merged into *a: the last oneof member seen decides its kind. */
static int any_value(Buf b, int depth, Any *a) {
    uint32_t field;
    int wire;
    if (depth > MAX_DEPTH)
        return -1;
    while (b.p < b.end) {
        if (tag(&b, &field, &wire) < 0)
            return -1;
        Buf s;
        switch (field) {
        case 1: /* string_value */
            if (string(&b, wire, &a->s, &a->n) < 0)
                return -1;
            a->kind = K_STRING;
            break;
        case 2: /* bool_value */
        case 3: /* int_value */
            if (wire != WT_VARINT || varint(&b, &a->bits, 10) < 0)
                return -1;
            a->kind = field == 2 ? K_BOOL : K_INT;
            break;
        case 4: /* double_value */
            if (wire != WT_I64 || fixed64(&b, &a->bits) < 0)
                return -1;
            a->kind = K_DOUBLE;
            break;
        case 5: /* array_value: ArrayValue { repeated AnyValue values = 1; } */
        case 6: /* kvlist_value: KeyValueList { repeated KeyValue values = 1; } */
            if (wire != WT_LEN || sub(&b, &s) < 0)
                return -1;
            while (s.p < s.end) {
                uint32_t f;
                int w;
                Buf item;
                if (tag(&s, &f, &w) < 0)
                    return -1;
                if (f != 1) {
                    if (skip(&s, w) < 0)
                        return -1;
                    continue;
                }
                if (w != WT_LEN || sub(&s, &item) < 0)
                    return -1;
                Any inner = {0};
                const uint8_t *k;
                Py_ssize_t kn;
                if ((field == 5 ? any_value(item, depth + 2, &inner) : key_value(item, depth + 2, &k, &kn, &inner)) < 0)
                    return -1;
            }
            a->kind = K_OTHER;
            break;
        case 7: /* bytes_value */
            if (wire != WT_LEN || sub(&b, &s) < 0)
                return -1;
            a->kind = K_OTHER;
            break;
        default:
            if (skip(&b, wire) < 0)
                return -1;
        }
    }
    return 0;
}

/* KeyValue, or a map entry of traces/wire.py (the same fields): the last key, the merged value. */
static int key_value(Buf b, int depth, const uint8_t **key, Py_ssize_t *key_len, Any *value) {
    uint32_t field;
    int wire;
    *key = b.p;
    *key_len = 0;
    value->kind = K_NONE;
    if (depth > MAX_DEPTH)
        return -1;
    while (b.p < b.end) {
        Buf s;
        if (tag(&b, &field, &wire) < 0)
            return -1;
        if (field == 1) {
            if (string(&b, wire, key, key_len) < 0)
                return -1;
        } else if (field == 2) {
            if (wire != WT_LEN || sub(&b, &s) < 0 || any_value(s, depth + 1, value) < 0)
                return -1;
        } else if (skip(&b, wire) < 0)
            return -1;
    }
    return 0;
}

static int key_is(const uint8_t *k, Py_ssize_t n, const char *want, Py_ssize_t want_len) {
    return n == want_len && memcmp(k, want, (size_t)n) == 0;
}

/* _text of extract.py: a string as it is, int/double/bool as Python's str() renders them, else "". */
static PyObject *text(const Any *a) {
    switch (a->kind) {
    case K_STRING:
        return PyUnicode_DecodeUTF8((const char *)a->s, a->n, "strict");
    case K_BOOL:
        return PyUnicode_FromString(a->bits ? "True" : "False");
    case K_INT:
        return PyUnicode_FromFormat("%lld", (long long)(int64_t)a->bits);
    case K_DOUBLE: {
        double d;
        memcpy(&d, &a->bits, sizeof d);
        PyObject *f = PyFloat_FromDouble(d);
        if (f == NULL)
            return NULL;
        PyObject *t = PyObject_Str(f);
        Py_DECREF(f);
        return t;
    }
    default:
        return PyUnicode_FromStringAndSize("", 0);
    }
}

/* ---- trace.proto ---- */

typedef struct {
    const uint8_t *trace_id, *span_id, *name;
    Py_ssize_t trace_len, span_len, name_len;
    uint64_t start, end;
    uint32_t code;
    const uint8_t *message;
    Py_ssize_t message_len;
    int has_exception;
    Any exception_type;
    int found[MAX_KEYS];
    Any value[MAX_KEYS];
} Span;

/* Span.Event: the first "exception.type" attribute of an event named "exception". */
static int event(Buf b, Span *span) {
    uint32_t field;
    int wire;
    const uint8_t *name = NULL;
    Py_ssize_t name_len = 0;
    int found = 0;
    Any type = {0};
    while (b.p < b.end) {
        Buf s;
        if (tag(&b, &field, &wire) < 0)
            return -1;
        if (field == 1) { /* time_unix_nano */
            uint64_t v;
            if (wire != WT_I64 || fixed64(&b, &v) < 0)
                return -1;
        } else if (field == 2) {
            if (string(&b, wire, &name, &name_len) < 0)
                return -1;
        } else if (field == 3) {
            const uint8_t *k;
            Py_ssize_t kn;
            Any v = {0};
            if (wire != WT_LEN || sub(&b, &s) < 0 || key_value(s, 4, &k, &kn, &v) < 0)
                return -1;
            if (!found && key_is(k, kn, "exception.type", 14)) {
                found = 1;
                type = v;
            }
        } else if (field == 4) { /* dropped_attributes_count */
            uint64_t v;
            if (wire != WT_VARINT || varint(&b, &v, 10) < 0)
                return -1;
        } else if (skip(&b, wire) < 0)
            return -1;
    }
    if (found && !span->has_exception && key_is(name, name_len, "exception", 9)) {
        span->has_exception = 1;
        span->exception_type = type;
    }
    return 0;
}

static int status(Buf b, Span *span) {
    uint32_t field;
    int wire;
    while (b.p < b.end) {
        if (tag(&b, &field, &wire) < 0)
            return -1;
        if (field == 2) {
            if (string(&b, wire, &span->message, &span->message_len) < 0)
                return -1;
        } else if (field == 3) {
            uint64_t v;
            if (wire != WT_VARINT || varint(&b, &v, 10) < 0)
                return -1;
            span->code = (uint32_t)v; /* an enum is an int32 */
        } else if (skip(&b, wire) < 0)
            return -1;
    }
    return 0;
}

static int attribute(Buf b, const Keys *keys, int *found, Any *values) {
    const uint8_t *k;
    Py_ssize_t kn;
    Any v = {0};
    if (key_value(b, 3, &k, &kn, &v) < 0)
        return -1;
    for (Py_ssize_t i = 0; i < keys->count; i++) {
        if (key_is(k, kn, keys->key[i], keys->len[i])) {
            found[i] = 1; /* a map keeps the last entry of a key */
            values[i] = v;
        }
    }
    return 0;
}

static int span(Buf b, const Keys *keys, Span *sp) {
    uint32_t field;
    int wire;
    memset(sp, 0, offsetof(Span, found));
    memset(sp->found, 0, sizeof(int) * (size_t)keys->count);
    while (b.p < b.end) {
        Buf s;
        if (tag(&b, &field, &wire) < 0)
            return -1;
        switch (field) {
        case 1:
        case 2:
            if (wire != WT_LEN || sub(&b, &s) < 0)
                return -1;
            if (field == 1) {
                sp->trace_id = s.p;
                sp->trace_len = s.end - s.p;
            } else {
                sp->span_id = s.p;
                sp->span_len = s.end - s.p;
            }
            break;
        case 5:
            if (string(&b, wire, &sp->name, &sp->name_len) < 0)
                return -1;
            break;
        case 7:
        case 8:
            if (wire != WT_I64 || fixed64(&b, field == 7 ? &sp->start : &sp->end) < 0)
                return -1;
            break;
        case 9:
            if (wire != WT_LEN || sub(&b, &s) < 0 || attribute(s, keys, sp->found, sp->value) < 0)
                return -1;
            break;
        case 11:
            if (wire != WT_LEN || sub(&b, &s) < 0 || event(s, sp) < 0)
                return -1;
            break;
        case 15:
            if (wire != WT_LEN || sub(&b, &s) < 0 || status(s, sp) < 0)
                return -1;
            break;
        default:
            if (skip(&b, wire) < 0)
                return -1;
        }
    }
    return 0;
}

/* ---- Python objects ---- */

typedef struct {
    PyObject *cols; /* a tuple of lists: one column per record field */
    PyObject *service;
    PyObject *error; /* "error" */
    PyObject *empty;
    /* The previous span's strings: a batch repeats names, flows and stages, so one memcmp
     * often saves decoding a string again (and the records share one object). */
    const uint8_t *last_name;
    Py_ssize_t last_name_len;
    PyObject *last_name_obj;
    const uint8_t *last_s[MAX_KEYS];
    Py_ssize_t last_n[MAX_KEYS];
    PyObject *last_obj[MAX_KEYS];
} Out;

static PyObject *cached(const uint8_t *s, Py_ssize_t n, const uint8_t **last_s, Py_ssize_t *last_n, PyObject **last) {
    if (*last != NULL && *last_n == n && memcmp(*last_s, s, (size_t)n) == 0) {
        Py_INCREF(*last);
        return *last;
    }
    PyObject *obj = PyUnicode_DecodeUTF8((const char *)s, n, "strict");
    if (obj == NULL)
        return NULL;
    Py_XSETREF(*last, obj);
    Py_INCREF(obj);
    *last_s = s;
    *last_n = n;
    return obj;
}

static PyObject *hex(const Span *sp) {
    static const char digits[] = "0123456789abcdef";
    Py_ssize_t n = sp->trace_len + sp->span_len;
    PyObject *out = PyUnicode_New(2 * n, 127);
    if (out == NULL)
        return NULL;
    Py_UCS1 *d = PyUnicode_1BYTE_DATA(out);
    for (int part = 0; part < 2; part++) {
        const uint8_t *s = part ? sp->span_id : sp->trace_id;
        Py_ssize_t len = part ? sp->span_len : sp->trace_len;
        for (Py_ssize_t i = 0; i < len; i++) {
            *d++ = (Py_UCS1)digits[s[i] >> 4];
            *d++ = (Py_UCS1)digits[s[i] & 15];
        }
    }
    return out;
}

static PyObject *error_reason(const Span *sp, Out *out) {
    if (sp->has_exception) {
        if (sp->exception_type.kind != K_STRING)
            return Py_NewRef(out->empty);
        return PyUnicode_DecodeUTF8((const char *)sp->exception_type.s, sp->exception_type.n, "strict");
    }
    if (sp->message_len)
        return PyUnicode_DecodeUTF8((const char *)sp->message, sp->message_len, "strict");
    return Py_NewRef(out->error);
}

static PyObject *value(const Span *sp, Py_ssize_t i, Out *out) {
    if (!sp->found[i])
        Py_RETURN_NONE;
    const Any *a = &sp->value[i];
    if (a->kind == K_STRING && a->n > 0)
        return cached(a->s, a->n, &out->last_s[i], &out->last_n[i], &out->last_obj[i]);
    return text(a);
}

/* One span into the columns: service, name, ident, at, failed, error reason, then each key's value.
 * Columns rather than a tuple per span: the tuples were GC-tracked objects, several per span, and
 * the cycle collector's runs they triggered cost more than building them. */
static int append(Out *out, Py_ssize_t column, PyObject *item) {
    if (item == NULL)
        return -2;
    int failed = PyList_Append(PyTuple_GET_ITEM(out->cols, column), item);
    Py_DECREF(item);
    return failed ? -2 : 0;
}

static int record(const Span *sp, const Keys *keys, Out *out) {
    if (append(out, 0, Py_NewRef(out->service)) < 0 ||
        append(out, 1, cached(sp->name, sp->name_len, &out->last_name, &out->last_name_len, &out->last_name_obj)) < 0 ||
        append(out, 2, hex(sp)) < 0 ||
        /* extract.py: (end or start) / 1e9, the int converted to a double first as Python does. */
        append(out, 3, PyFloat_FromDouble((double)(sp->end ? sp->end : sp->start) / 1e9)) < 0 ||
        append(out, 4, PyBool_FromLong(sp->code == 2)) < 0 || /* STATUS_CODE_ERROR */
        append(out, 5, error_reason(sp, out)) < 0)
        return -2;
    for (Py_ssize_t i = 0; i < keys->count; i++)
        if (append(out, RECORD_FIXED + i, value(sp, i, out)) < 0)
            return -2;
    return 0;
}

/* Returns 0, -1 (give up: None) or -2 (a Python exception is set). */
static int resource_spans(Buf b, const Keys *keys, Out *out, Span *sp) {
    uint32_t field;
    int wire;
    /* First pass: the resource (merged, it may come after its spans) and its service.name. */
    Buf scan = b;
    Any service = {0};
    while (scan.p < scan.end) {
        Buf s;
        if (tag(&scan, &field, &wire) < 0)
            return -1;
        if (field != 1) {
            if (skip(&scan, wire) < 0)
                return -1;
            continue;
        }
        if (wire != WT_LEN || sub(&scan, &s) < 0)
            return -1;
        while (s.p < s.end) {
            Buf entry;
            if (tag(&s, &field, &wire) < 0)
                return -1;
            if (field != 1) {
                if (skip(&s, wire) < 0)
                    return -1;
                continue;
            }
            const uint8_t *k;
            Py_ssize_t kn;
            Any v = {0};
            if (wire != WT_LEN || sub(&s, &entry) < 0 || key_value(entry, 3, &k, &kn, &v) < 0)
                return -1;
            if (key_is(k, kn, "service.name", 12))
                service = v;
        }
    }
    Py_XSETREF(out->service, text(&service));
    if (out->service == NULL)
        return -2;
    /* Second pass: scope_spans (2) and their spans (ScopeSpans field 2). */
    while (b.p < b.end) {
        Buf scope;
        if (tag(&b, &field, &wire) < 0)
            return -1;
        if (field != 2) {
            if (skip(&b, wire) < 0)
                return -1;
            continue;
        }
        if (wire != WT_LEN || sub(&b, &scope) < 0)
            return -1;
        while (scope.p < scope.end) {
            Buf s;
            if (tag(&scope, &field, &wire) < 0)
                return -1;
            if (field != 2) {
                if (skip(&scope, wire) < 0)
                    return -1;
                continue;
            }
            if (wire != WT_LEN || sub(&scope, &s) < 0 || span(s, keys, sp) < 0)
                return -1;
            int r = record(sp, keys, out);
            if (r < 0)
                return r;
        }
    }
    return 0;
}

static PyObject *read_spans(PyObject *Py_UNUSED(module), PyObject *args) {
    Py_buffer body;
    PyObject *key_tuple;
    if (!PyArg_ParseTuple(args, "y*O!:read_spans", &body, &PyTuple_Type, &key_tuple))
        return NULL;
    Keys keys;
    keys.count = PyTuple_GET_SIZE(key_tuple);
    if (keys.count > MAX_KEYS) {
        PyBuffer_Release(&body);
        PyErr_SetString(PyExc_ValueError, "read_spans: at most 64 keys");
        return NULL;
    }
    for (Py_ssize_t i = 0; i < keys.count; i++) {
        PyObject *k = PyTuple_GET_ITEM(key_tuple, i);
        if (!PyUnicode_Check(k) || (keys.key[i] = PyUnicode_AsUTF8AndSize(k, &keys.len[i])) == NULL) {
            PyBuffer_Release(&body);
            if (!PyErr_Occurred())
                PyErr_SetString(PyExc_TypeError, "read_spans: keys must be str");
            return NULL;
        }
    }
    Out out = {0};
    out.cols = PyTuple_New(RECORD_FIXED + keys.count);
    for (Py_ssize_t i = 0; out.cols != NULL && i < RECORD_FIXED + keys.count; i++) {
        PyObject *column = PyList_New(0);
        if (column == NULL)
            Py_CLEAR(out.cols);
        else
            PyTuple_SET_ITEM(out.cols, i, column);
    }
    out.error = PyUnicode_FromString("error");
    out.empty = PyUnicode_FromStringAndSize("", 0);
    Span *sp = PyMem_Malloc(sizeof(Span));
    int result = -2;
    if (out.cols != NULL && out.error != NULL && out.empty != NULL && sp != NULL) {
        Buf b = {(const uint8_t *)body.buf, (const uint8_t *)body.buf + body.len};
        uint32_t field;
        int wire;
        result = 0;
        while (result == 0 && b.p < b.end) {
            Buf s;
            if (tag(&b, &field, &wire) < 0)
                result = -1;
            else if (field != 1)
                result = skip(&b, wire);
            else if (wire != WT_LEN || sub(&b, &s) < 0)
                result = -1;
            else
                result = resource_spans(s, &keys, &out, sp);
        }
    } else if (sp == NULL)
        PyErr_NoMemory();
    PyMem_Free(sp);
    Py_XDECREF(out.service);
    Py_XDECREF(out.error);
    Py_XDECREF(out.empty);
    Py_XDECREF(out.last_name_obj);
    for (Py_ssize_t i = 0; i < keys.count; i++)
        Py_XDECREF(out.last_obj[i]);
    PyBuffer_Release(&body);
    if (result == 0)
        return out.cols;
    Py_XDECREF(out.cols);
    if (result == -1)
        Py_RETURN_NONE;
    return NULL;
}

static PyMethodDef methods[] = {
    {"read_spans", read_spans, METH_VARARGS,
     "read_spans(body, keys) -> columns of the spans' fields, or None to take the upb path.\n\n"
     "A tuple of lists, one item per span each: service, name, ident, at, failed, error_reason, then "
     "one list per key of `keys`, an item None when the span lacks that attribute key."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "flowhealth.traces._spans", "Business-span fields read from OTLP protobuf bytes.", -1, methods,
};

PyMODINIT_FUNC PyInit__spans(void) { return PyModule_Create(&module); }
