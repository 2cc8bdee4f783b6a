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
    return n == want_len && (n == 0 || memcmp(k, want, (size_t)n) == 0);
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
    PyObject *cols; /* a tuple of lists: one column per record field, then the events column */
    PyObject *service;
    PyObject *error; /* "error" */
    PyObject *empty;
    PyObject *ok, *rejected;
    PyObject *plans; /* flow id -> (stage set, flow, entity type, has a contract) */
    PyObject *mappings; /* (service, span name) -> (flow id, stage, entity id key, payload key), or NULL */
    PyTypeObject *event_type; /* convention.StageEvent */
    PyObject *no_violations; /* () */
    Py_ssize_t slow; /* spans left to Python: an event column item None */
    Py_ssize_t rows; /* spans recorded: the length of the events column */
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
    if (n == 0)
        s = (const uint8_t *)""; /* an absent field: no pointer, and memcmp takes none */
    if (*last != NULL && *last_n == n && (n == 0 || memcmp(*last_s, s, (size_t)n) == 0)) {
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

/* One span into the columns: service, name, ident, at, failed, error reason, each key's value,
 * and its event when C could build it. Columns rather than a tuple per span: the tuples were
 * GC-tracked objects, several per span, and the cycle collector's runs they triggered cost more
 * than building them. */
#define MAX_REASON 128     /* convention.MAX_REASON */
#define MAX_ENTITY_ID 200  /* convention.MAX_ENTITY_ID */

static int one_of(const Any *a, const char *const *words) {
    for (; *words != NULL; words++)
        if (key_is(a->s, a->n, *words, (Py_ssize_t)strlen(*words)))
            return 1;
    return 0;
}

/* The outcome and reason records.py would give a span (keys 4 and 5 are the convention's outcome
 * and reason, for mapped spans too), both borrowed; 0 when Python must decide: an outcome that is
 * not one of the four words (rejected there), a reason that might need cutting. */
static int outcome_reason(const Span *sp, PyObject *const *item, Out *out, PyObject **outcome, PyObject **reason) {
    static const char *const outcomes[] = {"ok", "rejected", "retried", "manual", NULL};
    const Any *v = sp->value;
    int explicit = sp->found[4] && ((v[4].kind == K_STRING && v[4].n > 0) || v[4].kind == K_BOOL ||
                                    v[4].kind == K_INT || v[4].kind == K_DOUBLE);
    if (!explicit)
        *outcome = sp->code == 2 ? out->rejected : out->ok; /* the span status decides */
    else if (v[4].kind == K_STRING && one_of(&v[4], outcomes))
        *outcome = item[RECORD_FIXED + 4];
    else
        return 0; /* an unknown outcome: rejected, by Python */
    *reason = sp->found[5] ? item[RECORD_FIXED + 5] : out->empty;
    if (PyUnicode_GET_LENGTH(*reason) == 0 && PyUnicode_Compare(*outcome, out->rejected) == 0)
        *reason = item[5]; /* the error reason */
    return PyUnicode_GET_LENGTH(*reason) <= MAX_REASON;
}

static PyObject *new_event(Out *out, PyObject *const *fields) {
    PyObject *event = out->event_type->tp_alloc(out->event_type, 9);
    if (event == NULL)
        return NULL;
    for (int i = 0; i < 9; i++)
        PyTuple_SET_ITEM(event, i, Py_NewRef(fields[i]));
    /* Strings, a float, None and the empty tuple: it can never be part of a cycle. Untracked, the
     * events kept for the fold (up to 64 requests of them) are never walked by the cycle collector
     * nor promoted into its oldest generation, whose growth triggers full collections. */
    PyObject_GC_UnTrack(event);
    return event;
}

/* The event records.py's _mapped_span would build for a span without `flowhealth.flow`, or None
 * (borrowed) when Python must look: no mapping with exactly one flow for its service and name
 * (`Routing.native_mappings`), an entity id that is not a plain string or might need cutting,
 * anything to reject, a payload for a flow with a contract. */
static PyObject *mapped_event_of(const Span *sp, PyObject *const *item, Out *out) {
    PyObject *pair = PyTuple_Pack(2, item[0], item[1]);
    if (pair == NULL)
        return NULL;
    PyObject *target = PyDict_GetItemWithError(out->mappings, pair);
    Py_DECREF(pair);
    if (target == NULL)
        return PyErr_Occurred() ? NULL : Py_None;
    /* Checked in read_spans: (str, str, int, int), both ints positions of `keys`. */
    Py_ssize_t e = PyLong_AsSsize_t(PyTuple_GET_ITEM(target, 2));
    Py_ssize_t p = PyLong_AsSsize_t(PyTuple_GET_ITEM(target, 3));
    const Any *v = sp->value;
    if (!sp->found[e] || v[e].kind != K_STRING || v[e].n == 0 || v[e].n > MAX_ENTITY_ID)
        return Py_None;
    PyObject *plan = PyDict_GetItemWithError(out->plans, PyTuple_GET_ITEM(target, 0));
    if (plan == NULL)
        return PyErr_Occurred() ? NULL : Py_None;
    if (sp->found[p] && PyTuple_GET_ITEM(plan, 3) == Py_True)
        return Py_None; /* a payload and a contract: jsonschema, in Python */
    PyObject *outcome, *reason;
    if (!outcome_reason(sp, item, out, &outcome, &reason))
        return Py_None;
    PyObject *fields[9] = {
        item[2],   PyTuple_GET_ITEM(plan, 1), PyTuple_GET_ITEM(target, 1), item[RECORD_FIXED + e],
        PyTuple_GET_ITEM(plan, 2), outcome, reason, item[3], out->no_violations,
    };
    return new_event(out, fields);
}

/* The stage event records.py would build for a convention span (keys 0-6 are convention's
 * CONVENTION_KEYS), or None (borrowed Py_None) when any rule needs Python: an unknown flow or
 * stage, a value that is not a plain string, anything
 * to reject, an entity id or reason that might need cutting, a payload to check against the flow's
 * contract. Only the common case is here. */
static PyObject *event_of(const Span *sp, PyObject *const *item, Out *out) {
    const Any *v = sp->value;
    if (!sp->found[0] && out->plans != NULL && out->mappings != NULL)
        return mapped_event_of(sp, item, out);
    if (out->plans == NULL || !sp->found[0] || v[0].kind != K_STRING || !sp->found[1] || v[1].kind != K_STRING ||
        !sp->found[2] || v[2].kind != K_STRING || v[2].n == 0 || v[2].n > MAX_ENTITY_ID ||
        (sp->found[3] && v[3].kind != K_STRING))
        return Py_None;
    PyObject *plan = PyDict_GetItemWithError(out->plans, item[RECORD_FIXED + 0]);
    if (plan == NULL)
        return PyErr_Occurred() ? NULL : Py_None;
    if (sp->found[6] && PyTuple_GET_ITEM(plan, 3) == Py_True)
        return Py_None; /* a payload and a contract: jsonschema, in Python */
    int known = PySet_Contains(PyTuple_GET_ITEM(plan, 0), item[RECORD_FIXED + 1]);
    if (known <= 0)
        return known < 0 ? NULL : Py_None;
    PyObject *outcome, *reason;
    if (!outcome_reason(sp, item, out, &outcome, &reason))
        return Py_None;
    PyObject *fields[9] = {
        item[2], PyTuple_GET_ITEM(plan, 1), item[RECORD_FIXED + 1], item[RECORD_FIXED + 2],
        sp->found[3] ? item[RECORD_FIXED + 3] : PyTuple_GET_ITEM(plan, 2), outcome, reason, item[3], out->no_violations,
    };
    return new_event(out, fields);
}

static int record(const Span *sp, const Keys *keys, Out *out) {
    PyObject *item[RECORD_FIXED + MAX_KEYS];
    Py_ssize_t made = 0, count = RECORD_FIXED + keys->count;
    int result = -2;
    item[made++] = Py_NewRef(out->service);
    item[made++] = cached(sp->name, sp->name_len, &out->last_name, &out->last_name_len, &out->last_name_obj);
    item[made++] = hex(sp);
    /* extract.py: (end or start) / 1e9, the int converted to a double first as Python does. */
    item[made++] = PyFloat_FromDouble((double)(sp->end ? sp->end : sp->start) / 1e9);
    item[made++] = PyBool_FromLong(sp->code == 2); /* STATUS_CODE_ERROR */
    item[made++] = error_reason(sp, out);
    for (Py_ssize_t i = 0; i < keys->count; i++)
        item[made++] = value(sp, i, out);
    for (Py_ssize_t i = 0; i < count; i++)
        if (item[i] == NULL)
            goto done;
    PyObject *event = event_of(sp, item, out);
    if (event == NULL)
        goto done;
    if (event == Py_None) {
        out->slow++;
        Py_INCREF(event);
    }
    /* The other columns are only read for spans left to Python (records.from_columns): until the
     * first of those they stay empty, then they are filled with None up to it, and with None for
     * every span C built later. Appending every field of every span was a tenth of accept_body. */
    if (event == Py_None && out->slow == 1) {
        for (Py_ssize_t i = 0; i < count; i++)
            for (Py_ssize_t r = 0; r < out->rows; r++)
                if (PyList_Append(PyTuple_GET_ITEM(out->cols, i), Py_None) < 0) {
                    Py_DECREF(event);
                    goto done;
                }
    }
    if (PyList_Append(PyTuple_GET_ITEM(out->cols, count), event) < 0) {
        Py_DECREF(event);
        goto done;
    }
    int built = event != Py_None;
    Py_DECREF(event);
    out->rows++;
    result = 0;
    if (out->slow == 0)
        goto done;
    for (Py_ssize_t i = 0; i < count && result == 0; i++)
        if (PyList_Append(PyTuple_GET_ITEM(out->cols, i), built ? Py_None : item[i]) < 0)
            result = -2;
done:
    for (Py_ssize_t i = 0; i < made; i++)
        Py_XDECREF(item[i]);
    return result;
}

/* The next occurrence of length-delimited field `want` in `b`, as `out`: 1 found, 0 none left,
 * -1 give up (a bad tag or length, or the field with another wire type). Other fields are skipped:
 * this is how every level of the request is walked for the one field it needs. */
static int next_field(Buf *b, uint32_t want, Buf *out) {
    uint32_t field;
    int wire;
    while (b->p < b->end) {
        if (tag(b, &field, &wire) < 0)
            return -1;
        if (field != want) {
            if (skip(b, wire) < 0)
                return -1;
            continue;
        }
        if (wire != WT_LEN || sub(b, out) < 0)
            return -1;
        return 1;
    }
    return 0;
}

/* Returns 0, -1 (give up: None) or -2 (a Python exception is set). */
static int resource_spans(Buf b, const Keys *keys, Out *out, Span *sp) {
    int found;
    /* First pass: the resource (field 1; merged, it may come after its spans) and the value of its
     * service.name among the resource's attributes (Resource field 1). */
    Buf scan = b, resource, entry;
    Any service = {0};
    while ((found = next_field(&scan, 1, &resource)) == 1) {
        while ((found = next_field(&resource, 1, &entry)) == 1) {
            const uint8_t *k;
            Py_ssize_t kn;
            Any v = {0};
            if (key_value(entry, 3, &k, &kn, &v) < 0)
                return -1;
            if (key_is(k, kn, "service.name", 12))
                service = v;
        }
        if (found < 0)
            return -1;
    }
    if (found < 0)
        return -1;
    Py_XSETREF(out->service, text(&service));
    if (out->service == NULL)
        return -2;
    /* Second pass: scope_spans (field 2) and their spans (ScopeSpans field 2). */
    Buf scope, s;
    while ((found = next_field(&b, 2, &scope)) == 1) {
        while ((found = next_field(&scope, 2, &s)) == 1) {
            if (span(s, keys, sp) < 0)
                return -1;
            int r = record(sp, keys, out);
            if (r < 0)
                return r;
        }
        if (found < 0)
            return -1;
    }
    return found < 0 ? -1 : 0;
}

static PyObject *read_spans(PyObject *Py_UNUSED(module), PyObject *args) {
    Py_buffer body;
    PyObject *key_tuple, *plans, *event_type, *mappings = NULL;
    if (!PyArg_ParseTuple(args, "y*O!O!O!|O!:read_spans", &body, &PyTuple_Type, &key_tuple, &PyDict_Type, &plans,
                          &PyType_Type, &event_type, &PyDict_Type, &mappings))
        return NULL;
    if (!PyType_IsSubtype((PyTypeObject *)event_type, &PyTuple_Type)) {
        PyBuffer_Release(&body);
        PyErr_SetString(PyExc_TypeError, "read_spans: event_type must be a tuple type");
        return NULL;
    }
    Keys keys;
    keys.count = PyTuple_GET_SIZE(key_tuple);
    if (keys.count > MAX_KEYS || keys.count < 7) {
        PyBuffer_Release(&body);
        PyErr_SetString(PyExc_ValueError, "read_spans: the 7 convention keys first, at most 64 keys");
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
    /* A plan is (stage set, flow, entity type, has a contract); checked here, not for each span. */
    Py_ssize_t pos = 0;
    PyObject *k, *plan;
    while (PyDict_Next(plans, &pos, &k, &plan)) {
        if (!PyUnicode_Check(k) || !PyTuple_Check(plan) || PyTuple_GET_SIZE(plan) != 4 ||
            !PyAnySet_Check(PyTuple_GET_ITEM(plan, 0)) || !PyUnicode_Check(PyTuple_GET_ITEM(plan, 1)) ||
            !PyUnicode_Check(PyTuple_GET_ITEM(plan, 2)) || !PyBool_Check(PyTuple_GET_ITEM(plan, 3))) {
            PyBuffer_Release(&body);
            PyErr_SetString(PyExc_TypeError, "read_spans: plans maps a flow id to (stages, flow, entity type, contract)");
            return NULL;
        }
    }
    /* A mapping is (service, name) -> (flow id, stage, entity id key, payload key); keys by position. */
    pos = 0;
    PyObject *target;
    while (mappings != NULL && PyDict_Next(mappings, &pos, &k, &target)) {
        int ok = PyTuple_Check(k) && PyTuple_GET_SIZE(k) == 2 && PyUnicode_Check(PyTuple_GET_ITEM(k, 0)) &&
                 PyUnicode_Check(PyTuple_GET_ITEM(k, 1)) && PyTuple_Check(target) && PyTuple_GET_SIZE(target) == 4 &&
                 PyUnicode_Check(PyTuple_GET_ITEM(target, 0)) && PyUnicode_Check(PyTuple_GET_ITEM(target, 1));
        for (int i = 2; ok && i < 4; i++) {
            PyObject *n = PyTuple_GET_ITEM(target, i);
            Py_ssize_t at = PyLong_Check(n) ? PyLong_AsSsize_t(n) : -1;
            if (at == -1 && PyErr_Occurred())
                PyErr_Clear();
            ok = at >= 0 && at < keys.count;
        }
        if (!ok) {
            PyBuffer_Release(&body);
            PyErr_SetString(PyExc_TypeError,
                            "read_spans: mappings maps (service, name) to (flow, stage, entity key, payload key)");
            return NULL;
        }
    }
    Out out = {0};
    out.plans = plans;
    out.mappings = mappings;
    out.event_type = (PyTypeObject *)event_type;
    out.cols = PyTuple_New(RECORD_FIXED + keys.count + 1);
    for (Py_ssize_t i = 0; out.cols != NULL && i < RECORD_FIXED + keys.count + 1; i++) {
        PyObject *column = PyList_New(0);
        if (column == NULL)
            Py_CLEAR(out.cols);
        else
            PyTuple_SET_ITEM(out.cols, i, column);
    }
    out.error = PyUnicode_FromString("error");
    out.empty = PyUnicode_FromStringAndSize("", 0);
    out.ok = PyUnicode_FromString("ok");
    out.rejected = PyUnicode_FromString("rejected");
    out.no_violations = PyTuple_New(0);
    Span *sp = PyMem_Malloc(sizeof(Span));
    int result = -2;
    if (out.cols != NULL && out.error != NULL && out.empty != NULL && out.ok != NULL && out.rejected != NULL &&
        out.no_violations != NULL && sp != NULL) {
        Buf b = {(const uint8_t *)body.buf, (const uint8_t *)body.buf + body.len};
        Buf s;
        int found = 0;
        result = 0;
        /* resource_spans (field 1) of the export request, one after the other. */
        while (result == 0 && (found = next_field(&b, 1, &s)) == 1)
            result = resource_spans(s, &keys, &out, sp);
        if (result == 0 && found < 0)
            result = -1;
    } else if (sp == NULL)
        PyErr_NoMemory();
    PyMem_Free(sp);
    Py_XDECREF(out.service);
    Py_XDECREF(out.error);
    Py_XDECREF(out.empty);
    Py_XDECREF(out.ok);
    Py_XDECREF(out.rejected);
    Py_XDECREF(out.no_violations);
    Py_XDECREF(out.last_name_obj);
    for (Py_ssize_t i = 0; i < keys.count; i++)
        Py_XDECREF(out.last_obj[i]);
    PyBuffer_Release(&body);
    if (result == 0) {
        PyObject *answer = Py_BuildValue("(nN)", out.slow, out.cols);
        return answer;
    }
    Py_XDECREF(out.cols);
    if (result == -1)
        Py_RETURN_NONE;
    return NULL;
}

static PyMethodDef methods[] = {
    {"read_spans", read_spans, METH_VARARGS,
     "read_spans(body, keys, plans, event_type) -> (slow, columns), or None to take the upb path.\n\n"
     "columns: a tuple of lists: service, name, ident, at, failed, error_reason, one list per key of `keys` "
     "(the 7 convention keys first; None when the span lacks the key), then the span's event_type instance "
     "when C could build it, else None (`slow` counts those). The last list has an item per span; the others "
     "are empty when `slow` is 0, else have an item per span, None for a span whose event C built."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "flowhealth.traces._spans", "Business-span fields read from OTLP protobuf bytes.", -1, methods,
};

PyMODINIT_FUNC PyInit__spans(void) { return PyModule_Create(&module); }
