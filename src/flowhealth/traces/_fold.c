/* The span fold's inner loop: one flow's stage events into journey rows, as traces/fold_py.py does.
 *
 * At 20,000 spans/s the fold's Python (grouping events by journey, applying each, rendering the
 * row) was ~2.4 us of a span's ~5.5 us of fold CPU; the rest is SQLite. This is the same loop over
 * the same Python objects, without the interpreter: the same rows, counters and latencies come
 * out, and tests compare both implementations on random batches (tests/test_traces_fold_native.py).
 *
 * Rows in: the journeys the batch touches as `journeys._load` reads them, a tuple per row
 * (entity_id, entity_type, started_at, last_stage, last_at, last_outcome, last_reason,
 * completed_at, updated_at, stages, spans). Rows out: `(inserts, updates, accepted, redelivered)`,
 * each insert `(flow, entity_id, entity_type, *values)` and each update `(*values, flow,
 * entity_id)`, in the order of `entities`. Anything unexpected raises; nothing is half-applied to
 * the caller's data except the counters and latencies of the events before the error, and the
 * caller's transaction is rolled back then anyway.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

/* StageEvent's fields (traces/convention.py), in order. */
enum { EV_KEY, EV_FLOW, EV_STAGE, EV_ENTITY_ID, EV_ENTITY_TYPE, EV_OUTCOME, EV_REASON, EV_AT, EV_VIOLATIONS, EV_FIELDS };
/* A journey row as read (journeys._load). */
enum { R_ID, R_TYPE, R_STARTED, R_STAGE, R_LAST_AT, R_OUTCOME, R_REASON, R_COMPLETED, R_UPDATED, R_STAGES, R_SPANS, R_FIELDS };

/* Set once by configure(): the words and limits of measures.py and convention.py, so both folds share one source. */
static PyObject *OK, *REJECTED, *RETRIED, *MANUAL;
static PyObject *M_REJECTIONS, *M_RETRIES, *M_DUPLICATES, *M_INTERVENTIONS, *M_CONTRACT;
static PyObject *SEPARATOR, *EMPTY, *SPACE, *NO_ARGS, *SORT_KWARGS;
static Py_ssize_t MAX_SPAN_KEYS, MAX_REASON;
/* measures.LatencySummary, and the LATENCY_BUCKETS bounds it counts in (the last is +Inf). */
static PyTypeObject *SUMMARY_TYPE;
#define MAX_BOUNDS 64
static double BOUNDS[MAX_BOUNDS];
static Py_ssize_t N_BOUNDS;

typedef struct {
    double started, last_at, completed;
    int has_completed, is_new;
    PyObject *last_stage, *last_outcome, *last_reason, *entity_type; /* new references */
    PyObject *stages;                                                   /* dict: stage -> float */
    PyObject *spans;                                                    /* list of span keys */
} State;

static void state_clear(State *st) {
    Py_CLEAR(st->last_stage);
    Py_CLEAR(st->last_outcome);
    Py_CLEAR(st->last_reason);
    Py_CLEAR(st->entity_type);
    Py_CLEAR(st->stages);
    Py_CLEAR(st->spans);
}

static int eq(PyObject *a, PyObject *b) {
    if (a == b)
        return 1;
    int r = PyObject_RichCompareBool(a, b, Py_EQ);
    return r; /* -1 on error */
}

static int as_double(PyObject *o, double *out) {
    double v = PyFloat_AsDouble(o);
    if (v == -1.0 && PyErr_Occurred())
        return -1;
    *out = v;
    return 0;
}

/* int(at // 60) * 60, with Python's float floor division (Objects/floatobject.c). */
static int minute_of(double at, long long *out) {
    if (!isfinite(at)) {
        PyErr_SetString(PyExc_ValueError, "cannot take the minute of a span time that is not finite");
        return -1;
    }
    double mod = fmod(at, 60.0);
    double div = (at - mod) / 60.0;
    if (mod && mod < 0) /* the divisor is positive */
        div -= 1.0;
    double floordiv;
    if (div) {
        floordiv = floor(div);
        if (div - floordiv > 0.5)
            floordiv += 1.0;
    } else {
        floordiv = 0.0;
    }
    *out = (long long)floordiv * 60;
    return 0;
}

/* round(x) as Python rounds a float: half to even. */
static long long py_round(double x) {
    double r = round(x);
    if (fabs(x - r) == 0.5)
        r = 2.0 * round(x / 2.0);
    return (long long)r;
}

/* A tuple of these objects and, when `with_minute`, the minute as an int last (Py_BuildValue parses its format each call). */
static PyObject *key_of(PyObject *const *items, Py_ssize_t n, int with_minute, long long minute) {
    PyObject *key = PyTuple_New(n + (with_minute ? 1 : 0));
    if (key == NULL)
        return NULL;
    for (Py_ssize_t i = 0; i < n; i++)
        PyTuple_SET_ITEM(key, i, Py_NewRef(items[i]));
    if (with_minute) {
        PyObject *m = PyLong_FromLongLong(minute);
        if (m == NULL) {
            Py_DECREF(key);
            return NULL;
        }
        PyTuple_SET_ITEM(key, n, m);
    }
    return key;
}

/* counts[(flow, measure, stage, reason, minute)] += 1 */
static int count_add(PyObject *counts, PyObject *flow, PyObject *measure, PyObject *stage, PyObject *reason,
                     long long minute) {
    PyObject *items[] = {flow, measure, stage, reason};
    PyObject *key = key_of(items, 4, 1, minute);
    if (key == NULL)
        return -1;
    PyObject *n = PyDict_GetItemWithError(counts, key); /* borrowed */
    PyObject *next;
    if (n == NULL) {
        if (PyErr_Occurred()) {
            Py_DECREF(key);
            return -1;
        }
        next = PyLong_FromLong(1);
    } else {
        PyObject *one = PyLong_FromLong(1);
        next = one == NULL ? NULL : PyNumber_Add(n, one);
        Py_XDECREF(one);
    }
    int rc = next == NULL ? -1 : PyDict_SetItem(counts, key, next);
    Py_XDECREF(next);
    Py_DECREF(key);
    return rc;
}

/* A journey as read back: "name microseconds ..." to {name: seconds}, span keys to a list. */
static int state_from_row(State *st, PyObject *row) {
    if (!PyTuple_Check(row) || PyTuple_GET_SIZE(row) != R_FIELDS) {
        PyErr_SetString(PyExc_TypeError, "a journey row has 11 columns");
        return -1;
    }
    PyObject *completed = PyTuple_GET_ITEM(row, R_COMPLETED);
    PyObject *reason = PyTuple_GET_ITEM(row, R_REASON);
    st->is_new = 0;
    st->has_completed = completed != Py_None;
    if (as_double(PyTuple_GET_ITEM(row, R_STARTED), &st->started) < 0 ||
        as_double(PyTuple_GET_ITEM(row, R_LAST_AT), &st->last_at) < 0 ||
        (st->has_completed && as_double(completed, &st->completed) < 0))
        return -1;
    st->entity_type = Py_NewRef(PyTuple_GET_ITEM(row, R_TYPE));
    st->last_stage = Py_NewRef(PyTuple_GET_ITEM(row, R_STAGE));
    st->last_outcome = Py_NewRef(PyTuple_GET_ITEM(row, R_OUTCOME));
    int truthy = PyObject_IsTrue(reason);
    if (truthy < 0)
        return -1;
    st->last_reason = Py_NewRef(truthy ? reason : EMPTY); /* reason or "" */
    st->spans = PyUnicode_Split(PyTuple_GET_ITEM(row, R_SPANS), NULL, -1);
    if (st->spans == NULL)
        return -1;
    PyObject *parts = PyUnicode_Split(PyTuple_GET_ITEM(row, R_STAGES), NULL, -1);
    if (parts == NULL)
        return -1;
    st->stages = PyDict_New();
    int rc = st->stages == NULL ? -1 : 0;
    Py_ssize_t n = PyList_GET_SIZE(parts);
    if (rc == 0 && n % 2) {
        PyErr_SetString(PyExc_ValueError, "a journey's stages are name and time pairs");
        rc = -1;
    }
    for (Py_ssize_t j = 0; rc == 0 && j < n; j += 2) {
        PyObject *micros = PyLong_FromUnicodeObject(PyList_GET_ITEM(parts, j + 1), 10);
        double us = micros == NULL ? -1.0 : PyLong_AsDouble(micros);
        Py_XDECREF(micros);
        if (micros == NULL || (us == -1.0 && PyErr_Occurred())) {
            rc = -1;
            break;
        }
        PyObject *at = PyFloat_FromDouble(us / 1e6);
        rc = at == NULL ? -1 : PyDict_SetItem(st->stages, PyList_GET_ITEM(parts, j), at);
        Py_XDECREF(at);
    }
    Py_DECREF(parts);
    return rc;
}

static int state_from_event(State *st, PyObject *first) {
    st->is_new = 1;
    st->has_completed = 0;
    if (as_double(PyTuple_GET_ITEM(first, EV_AT), &st->started) < 0)
        return -1;
    st->last_at = st->started;
    st->last_stage = Py_NewRef(PyTuple_GET_ITEM(first, EV_STAGE));
    st->last_outcome = Py_NewRef(PyTuple_GET_ITEM(first, EV_OUTCOME));
    st->last_reason = Py_NewRef(PyTuple_GET_ITEM(first, EV_REASON));
    st->entity_type = Py_NewRef(PyTuple_GET_ITEM(first, EV_ENTITY_TYPE));
    st->stages = PyDict_New();
    st->spans = PyList_New(0);
    return st->stages && st->spans ? 0 : -1;
}

/* Stable by the event's time, as list.sort(key=...) would: already ordered (nearly always) or sorted by Python. */
static int sort_events(PyObject *evs) {
    Py_ssize_t n = PyList_GET_SIZE(evs);
    double prev = -INFINITY;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *ev = PyList_GET_ITEM(evs, i);
        if (!PyTuple_Check(ev) || PyTuple_GET_SIZE(ev) != EV_FIELDS) {
            PyErr_SetString(PyExc_TypeError, "stage events are StageEvent tuples");
            return -1;
        }
        double at;
        if (as_double(PyTuple_GET_ITEM(ev, EV_AT), &at) < 0)
            return -1;
        if (!(prev <= at)) { /* out of order, or NaN: Python decides */
            PyObject *sort = PyObject_GetAttrString(evs, "sort");
            if (sort == NULL)
                return -1;
            PyObject *none = PyObject_Call(sort, NO_ARGS, SORT_KWARGS);
            Py_DECREF(sort);
            Py_XDECREF(none);
            return none == NULL ? -1 : 0;
        }
        prev = at;
    }
    return 0;
}

/* The latencies observed under one (start, end, minute) of the flow being folded, summed as they
 * come (measures.LatencySummary.of): no object per observation. */
typedef struct {
    PyObject *start, *end; /* borrowed from pairs_by_stage, which the caller holds */
    long long minute;
    Py_ssize_t count;
    double total, top, last, last_at;
    Py_ssize_t buckets[MAX_BOUNDS];
} Sum;

typedef struct {
    PyObject *flow, *pairs_by_stage, *end_stage, *counts, *latency;
    double now;
    Sum *sums; /* PyMem array: a few stage pairs times the minutes of one fold */
    Py_ssize_t n_sums, cap_sums, last_sum;
} Fold;

/* Stage names of pairs_by_stage: usually the same objects each time, equal strings otherwise (a
 * caller may build its pairs from separate copies; fold_py's dict keys compare by value). */
static int same_stage(PyObject *a, PyObject *b) {
    return a == b || (PyUnicode_Check(a) && PyUnicode_Check(b) && PyUnicode_Compare(a, b) == 0);
}

static int is_sum_of(const Sum *s, PyObject *start, PyObject *end, long long minute) {
    return s->minute == minute && same_stage(s->start, start) && same_stage(s->end, end);
}

static Sum *sum_for(Fold *f, PyObject *start, PyObject *end, long long minute) {
    if (f->n_sums && is_sum_of(&f->sums[f->last_sum], start, end, minute))
        return &f->sums[f->last_sum];
    for (Py_ssize_t i = 0; i < f->n_sums; i++) {
        Sum *s = &f->sums[i];
        if (is_sum_of(s, start, end, minute)) {
            f->last_sum = i;
            return s;
        }
    }
    if (f->n_sums == f->cap_sums) {
        Py_ssize_t cap = f->cap_sums ? 2 * f->cap_sums : 8;
        Sum *grown = PyMem_Realloc(f->sums, (size_t)cap * sizeof(Sum));
        if (grown == NULL) {
            PyErr_NoMemory();
            return NULL;
        }
        f->sums = grown;
        f->cap_sums = cap;
    }
    Sum *s = &f->sums[f->n_sums];
    memset(s, 0, sizeof *s);
    s->start = start;
    s->end = end;
    s->minute = minute;
    s->last_at = -INFINITY;
    f->last_sum = f->n_sums++;
    return s;
}

/* One latency from the stage at t0 to the stage at t1, under minute_of(t1) (fold_py._Fold.observe). */
static int observe(Fold *f, PyObject *start, PyObject *end, double t0, double t1) {
    double d = t1 - t0;
    double seconds = d > 0.0 ? d : 0.0; /* max(0.0, d): clocks of different systems drift */
    long long minute;
    if (minute_of(t1, &minute) < 0)
        return -1;
    Sum *s = sum_for(f, start, end, minute);
    if (s == NULL)
        return -1;
    s->count++;
    s->total += seconds;
    if (seconds > s->top)
        s->top = seconds;
    if (t1 >= s->last_at) {
        s->last = seconds;
        s->last_at = t1;
    }
    Py_ssize_t b = 0; /* bisect_left: the first bound >= seconds; configure() made the last +Inf */
    while (b < N_BOUNDS - 1 && BOUNDS[b] < seconds)
        b++;
    s->buckets[b]++;
    return 0;
}

/* latency[(flow, start, end, minute)] = LatencySummary(...) for each sum; a key already there is an error. */
static int put_sums(Fold *f) {
    for (Py_ssize_t i = 0; i < f->n_sums; i++) {
        Sum *s = &f->sums[i];
        PyObject *key = NULL, *summary = NULL, *buckets = PyTuple_New(N_BOUNDS);
        int rc = -1;
        if (buckets == NULL)
            return -1;
        for (Py_ssize_t b = 0; b < N_BOUNDS; b++) {
            PyObject *n = PyLong_FromSsize_t(s->buckets[b]);
            if (n == NULL)
                goto done;
            PyTuple_SET_ITEM(buckets, b, n);
        }
        key = Py_BuildValue("(OOOL)", f->flow, s->start, s->end, s->minute);
        summary = SUMMARY_TYPE->tp_alloc(SUMMARY_TYPE, 6);
        if (key == NULL || summary == NULL)
            goto done;
        PyObject *fields[6] = {PyLong_FromSsize_t(s->count), PyFloat_FromDouble(s->total), PyFloat_FromDouble(s->top),
                               PyFloat_FromDouble(s->last), PyFloat_FromDouble(s->last_at), Py_NewRef(buckets)};
        int made = 1;
        for (int j = 0; j < 6; j++) {
            made = made && fields[j] != NULL;
            PyTuple_SET_ITEM(summary, j, fields[j]); /* NULL stays NULL: tuple dealloc takes XDECREF */
        }
        if (!made)
            goto done;
        int there = PyDict_Contains(f->latency, key);
        if (there > 0)
            PyErr_SetString(PyExc_ValueError, "latencies of this flow were already folded into `latency`");
        else if (there == 0)
            rc = PyDict_SetItem(f->latency, key, summary);
    done:
        Py_DECREF(buckets);
        Py_XDECREF(key);
        Py_XDECREF(summary);
        if (rc < 0)
            return -1;
    }
    return 0;
}

/* One journey's events of this fold, in time order (fold_py._Fold.entity). */
static int apply_events(Fold *f, State *st, PyObject *evs, Py_ssize_t *accepted, Py_ssize_t *redelivered) {
    PyObject *last = NULL; /* borrowed: an item of evs */
    Py_ssize_t n = PyList_GET_SIZE(evs);
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *ev = PyList_GET_ITEM(evs, i);
        PyObject *key = PyTuple_GET_ITEM(ev, EV_KEY), *stage = PyTuple_GET_ITEM(ev, EV_STAGE);
        PyObject *outcome = PyTuple_GET_ITEM(ev, EV_OUTCOME), *at_obj = PyTuple_GET_ITEM(ev, EV_AT);
        int seen = PySequence_Contains(st->spans, key);
        if (seen < 0)
            return -1;
        if (seen) {
            (*redelivered)++; /* at-least-once delivery: the same span again changes nothing */
            continue;
        }
        (*accepted)++;
        if (PyList_Append(st->spans, key) < 0)
            return -1;
        Py_ssize_t kept = PyList_GET_SIZE(st->spans);
        if (kept > MAX_SPAN_KEYS && PyList_SetSlice(st->spans, 0, kept - MAX_SPAN_KEYS, NULL) < 0)
            return -1;
        double at;
        long long minute = 0;
        int timed = 0; /* minute_of(at) taken: only counters need it */
        if (as_double(at_obj, &at) < 0)
            return -1;
#define MINUTE() (timed ? 0 : (timed = 1, minute_of(at, &minute)))
        if (at < st->started)
            st->started = at;
        if (at >= st->last_at) {
            st->last_at = at;
            last = ev;
        }
        PyObject *violations = PyTuple_GET_ITEM(ev, EV_VIOLATIONS);
        int any = PyObject_IsTrue(violations);
        if (any < 0)
            return -1;
        if (any) {
            PyObject *items = PySequence_Fast(violations, "violations are (path, why) pairs");
            if (items == NULL)
                return -1;
            for (Py_ssize_t v = 0; v < PySequence_Fast_GET_SIZE(items); v++) {
                PyObject *pair = PySequence_Fast_GET_ITEM(items, v);
                PyObject *text = NULL, *cut = NULL;
                if (PyTuple_Check(pair) && PyTuple_GET_SIZE(pair) == 2)
                    text = PyUnicode_FromFormat("%S%U%S", PyTuple_GET_ITEM(pair, 1), SEPARATOR, PyTuple_GET_ITEM(pair, 0));
                else
                    PyErr_SetString(PyExc_TypeError, "violations are (path, why) pairs");
                if (text != NULL && MINUTE() == 0)
                    cut = PyUnicode_Substring(text, 0, MAX_REASON);
                int rc = cut == NULL ? -1 : count_add(f->counts, f->flow, M_CONTRACT, stage, cut, minute);
                Py_XDECREF(text);
                Py_XDECREF(cut);
                if (rc < 0) {
                    Py_DECREF(items);
                    return -1;
                }
            }
            Py_DECREF(items);
        }
        int ok = eq(outcome, OK);
        if (ok < 0)
            return -1;
        if (!ok) {
            int r;
            if ((r = eq(outcome, REJECTED)) != 0) {
                if (r < 0 || MINUTE() < 0 || count_add(f->counts, f->flow, M_REJECTIONS, stage, PyTuple_GET_ITEM(ev, EV_REASON), minute) < 0)
                    return -1;
                continue;
            }
            if ((r = eq(outcome, RETRIED)) != 0) {
                if (r < 0 || MINUTE() < 0 || count_add(f->counts, f->flow, M_RETRIES, stage, EMPTY, minute) < 0)
                    return -1;
                continue;
            }
            if ((r = eq(outcome, MANUAL)) != 0) {
                if (r < 0 || MINUTE() < 0 || count_add(f->counts, f->flow, M_INTERVENTIONS, stage, EMPTY, minute) < 0)
                    return -1;
            }
        }
        int dup = PyDict_Contains(st->stages, stage);
        if (dup < 0)
            return -1;
        if (dup) {
            if (MINUTE() < 0 || count_add(f->counts, f->flow, M_DUPLICATES, stage, EMPTY, minute) < 0)
                return -1;
            continue;
        }
        if (PyDict_SetItem(st->stages, stage, at_obj) < 0)
            return -1;
        PyObject *pairs = PyDict_GetItemWithError(f->pairs_by_stage, stage); /* borrowed */
        if (pairs == NULL && PyErr_Occurred())
            return -1;
        if (pairs != NULL) {
            if (!PyTuple_Check(pairs)) {
                PyErr_SetString(PyExc_TypeError, "pairs_by_stage holds tuples of (start, end)");
                return -1;
            }
            for (Py_ssize_t p = 0; p < PyTuple_GET_SIZE(pairs); p++) {
                PyObject *pair = PyTuple_GET_ITEM(pairs, p);
                if (!PyTuple_Check(pair) || PyTuple_GET_SIZE(pair) != 2) {
                    PyErr_SetString(PyExc_TypeError, "pairs_by_stage holds tuples of (start, end)");
                    return -1;
                }
                PyObject *start = PyTuple_GET_ITEM(pair, 0), *end = PyTuple_GET_ITEM(pair, 1);
                /* Spans of different systems arrive in any order: measure when the second one comes. */
                int is_end = eq(end, stage);
                if (is_end < 0)
                    return -1;
                PyObject *other = is_end ? PyDict_GetItemWithError(st->stages, start) : NULL;
                if (other == NULL && PyErr_Occurred())
                    return -1;
                if (other != NULL) {
                    double t0;
                    if (as_double(other, &t0) < 0 || observe(f, start, end, t0, at) < 0)
                        return -1;
                    continue;
                }
                int is_start = eq(start, stage);
                if (is_start < 0)
                    return -1;
                other = is_start ? PyDict_GetItemWithError(st->stages, end) : NULL;
                if (other == NULL && PyErr_Occurred())
                    return -1;
                if (other != NULL) {
                    double t1;
                    if (as_double(other, &t1) < 0 || observe(f, start, end, at, t1) < 0)
                        return -1;
                }
            }
        }
        if (f->end_stage != Py_None && !st->has_completed) {
            int done = eq(stage, f->end_stage);
            if (done < 0)
                return -1;
            if (done) {
                st->has_completed = 1;
                st->completed = f->now;
            }
        }
    }
#undef MINUTE
    if (last != NULL) {
        Py_SETREF(st->last_stage, Py_NewRef(PyTuple_GET_ITEM(last, EV_STAGE)));
        Py_SETREF(st->last_outcome, Py_NewRef(PyTuple_GET_ITEM(last, EV_OUTCOME)));
        Py_SETREF(st->last_reason, Py_NewRef(PyTuple_GET_ITEM(last, EV_REASON)));
    }
    return 0;
}

/* Appends to a growing UTF-8 buffer: a stack array for the usual few stages, the heap past it. */
typedef struct {
    char *p;
    Py_ssize_t len, cap;
    char local[512];
} Text;

static int text_put(Text *t, const char *s, Py_ssize_t n) {
    if (t->len + n > t->cap) {
        Py_ssize_t cap = (t->len + n) * 2;
        char *grown = t->p == t->local ? PyMem_Malloc(cap) : PyMem_Realloc(t->p, cap);
        if (grown == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        if (t->p == t->local)
            memcpy(grown, t->local, t->len);
        t->p = grown;
        t->cap = cap;
    }
    memcpy(t->p + t->len, s, n);
    t->len += n;
    return 0;
}

/* "name microseconds name microseconds ...": integer microseconds, as fold_py._values writes them. */
static PyObject *stages_text(PyObject *stages) {
    Text t = {.len = 0, .cap = sizeof t.local};
    t.p = t.local;
    PyObject *name, *at, *out = NULL;
    Py_ssize_t pos = 0;
    while (PyDict_Next(stages, &pos, &name, &at)) {
        double seconds;
        Py_ssize_t n;
        char digits[32];
        const char *utf8 = PyUnicode_Check(name) ? PyUnicode_AsUTF8AndSize(name, &n) : NULL;
        if (utf8 == NULL) {
            if (!PyErr_Occurred())
                PyErr_SetString(PyExc_TypeError, "stage names are strings");
            goto done;
        }
        if (as_double(at, &seconds) < 0)
            goto done;
        int written = snprintf(digits, sizeof digits, " %lld", py_round(seconds * 1e6));
        if ((t.len && text_put(&t, " ", 1) < 0) || text_put(&t, utf8, n) < 0 || text_put(&t, digits, written) < 0)
            goto done;
    }
    out = PyUnicode_DecodeUTF8(t.p, t.len, "strict");
done:
    if (t.p != t.local)
        PyMem_Free(t.p);
    return out;
}

/* (started_at, last_stage, last_at, last_outcome, last_reason or None, completed_at, updated_at, stages, spans),
 * with `head` before them (an insert's flow, entity_id and entity_type) or `tail` after them (an update's flow and entity_id). */
static PyObject *row_of(State *st, double now, PyObject *const *head, Py_ssize_t heads, PyObject *const *tail,
                        Py_ssize_t tails) {
    int reason = PyObject_IsTrue(st->last_reason);
    if (reason < 0)
        return NULL;
    PyObject *values[9] = {
        PyFloat_FromDouble(st->started),
        Py_NewRef(st->last_stage),
        PyFloat_FromDouble(st->last_at),
        Py_NewRef(st->last_outcome),
        Py_NewRef(reason ? st->last_reason : Py_None),
        st->has_completed ? PyFloat_FromDouble(st->completed) : Py_NewRef(Py_None),
        PyFloat_FromDouble(now),
        stages_text(st->stages),
        PyUnicode_Join(SPACE, st->spans),
    };
    PyObject *row = PyTuple_New(heads + 9 + tails);
    int ok = row != NULL;
    for (int i = 0; i < 9; i++)
        ok = ok && values[i] != NULL;
    if (!ok) {
        for (int i = 0; i < 9; i++)
            Py_XDECREF(values[i]);
        Py_XDECREF(row);
        return NULL;
    }
    Py_ssize_t at = 0;
    for (Py_ssize_t i = 0; i < heads; i++)
        PyTuple_SET_ITEM(row, at++, Py_NewRef(head[i]));
    for (int i = 0; i < 9; i++)
        PyTuple_SET_ITEM(row, at++, values[i]); /* the row takes these references */
    for (Py_ssize_t i = 0; i < tails; i++)
        PyTuple_SET_ITEM(row, at++, Py_NewRef(tail[i]));
    return row;
}

static PyObject *fold_flow(PyObject *Py_UNUSED(module), PyObject *args) {
    PyObject *entities, *rows;
    Fold f = {0};
    if (SEPARATOR == NULL || SUMMARY_TYPE == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "configure() first");
        return NULL;
    }
    if (!PyArg_ParseTuple(args, "UO!O!O!OdO!O!", &f.flow, &PyDict_Type, &entities, &PyList_Type, &rows, &PyDict_Type,
                          &f.pairs_by_stage, &f.end_stage, &f.now, &PyDict_Type, &f.counts, &PyDict_Type, &f.latency))
        return NULL;
    PyObject *by_id = PyDict_New(), *inserts = PyList_New(0), *updates = PyList_New(0);
    Py_ssize_t accepted = 0, redelivered = 0;
    if (by_id == NULL || inserts == NULL || updates == NULL)
        goto fail;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(rows); i++) {
        PyObject *row = PyList_GET_ITEM(rows, i);
        if (!PyTuple_Check(row) || PyTuple_GET_SIZE(row) != R_FIELDS) {
            PyErr_SetString(PyExc_TypeError, "a journey row has 11 columns");
            goto fail;
        }
        if (PyDict_SetItem(by_id, PyTuple_GET_ITEM(row, R_ID), row) < 0)
            goto fail;
    }
    PyObject *entity_id, *evs;
    Py_ssize_t pos = 0;
    while (PyDict_Next(entities, &pos, &entity_id, &evs)) {
        if (!PyList_Check(evs) || PyList_GET_SIZE(evs) == 0) {
            PyErr_SetString(PyExc_TypeError, "entities map ids to non-empty lists of events");
            goto fail;
        }
        if (sort_events(evs) < 0)
            goto fail;
        State st = {0};
        PyObject *row = PyDict_GetItemWithError(by_id, entity_id);
        int rc;
        if (row == NULL && PyErr_Occurred())
            goto fail;
        rc = row != NULL ? state_from_row(&st, row) : state_from_event(&st, PyList_GET_ITEM(evs, 0));
        Py_ssize_t before = accepted;
        if (rc == 0)
            rc = apply_events(&f, &st, evs, &accepted, &redelivered);
        if (rc == 0 && accepted > before) {
            PyObject *ends[] = {f.flow, entity_id, st.entity_type};
            PyObject *out = st.is_new ? row_of(&st, f.now, ends, 3, NULL, 0) : row_of(&st, f.now, NULL, 0, ends, 2);
            rc = out == NULL ? -1 : PyList_Append(st.is_new ? inserts : updates, out);
            Py_XDECREF(out);
        }
        state_clear(&st);
        if (rc < 0)
            goto fail;
    }
    if (put_sums(&f) < 0)
        goto fail;
    PyMem_Free(f.sums);
    Py_DECREF(by_id);
    return Py_BuildValue("(NNnn)", inserts, updates, accepted, redelivered);
fail:
    PyMem_Free(f.sums);
    Py_XDECREF(by_id);
    Py_XDECREF(inserts);
    Py_XDECREF(updates);
    return NULL;
}

/* Events of several requests grouped by flow, then entity, in arrival order; events of flows not in
 * `plans` (a reload removed their traces block) are counted, not grouped. (fold_py.group) */
static PyObject *group(PyObject *Py_UNUSED(module), PyObject *args) {
    PyObject *batches, *plans;
    if (!PyArg_ParseTuple(args, "O!O!", &PyList_Type, &batches, &PyDict_Type, &plans))
        return NULL;
    PyObject *grouped = PyDict_New();
    Py_ssize_t dropped = 0;
    if (grouped == NULL)
        return NULL;
    for (Py_ssize_t b = 0; b < PyList_GET_SIZE(batches); b++) {
        PyObject *events = PySequence_Fast(PyList_GET_ITEM(batches, b), "batches are sequences of events");
        if (events == NULL)
            goto fail;
        for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(events); i++) {
            PyObject *ev = PySequence_Fast_GET_ITEM(events, i);
            if (!PyTuple_Check(ev) || PyTuple_GET_SIZE(ev) != EV_FIELDS) {
                PyErr_SetString(PyExc_TypeError, "stage events are StageEvent tuples");
                Py_DECREF(events);
                goto fail;
            }
            PyObject *flow = PyTuple_GET_ITEM(ev, EV_FLOW), *entity_id = PyTuple_GET_ITEM(ev, EV_ENTITY_ID);
            int known = PyDict_Contains(plans, flow);
            PyObject *entities = known > 0 ? PyDict_GetItemWithError(grouped, flow) : NULL; /* borrowed */
            if (known == 0) {
                dropped++;
                continue;
            }
            if (known < 0 || (entities == NULL && PyErr_Occurred())) {
                Py_DECREF(events);
                goto fail;
            }
            if (entities == NULL) {
                entities = PyDict_New();
                int rc = entities == NULL ? -1 : PyDict_SetItem(grouped, flow, entities);
                Py_XDECREF(entities); /* `grouped` holds it */
                if (rc < 0) {
                    Py_DECREF(events);
                    goto fail;
                }
            }
            PyObject *evs = PyDict_GetItemWithError(entities, entity_id); /* borrowed */
            int rc;
            if (evs != NULL) {
                rc = PyList_Append(evs, ev);
            } else if (PyErr_Occurred()) {
                rc = -1;
            } else {
                evs = PyList_New(1);
                if (evs != NULL)
                    PyList_SET_ITEM(evs, 0, Py_NewRef(ev));
                rc = evs == NULL ? -1 : PyDict_SetItem(entities, entity_id, evs);
                Py_XDECREF(evs);
            }
            if (rc < 0) {
                Py_DECREF(events);
                goto fail;
            }
        }
        Py_DECREF(events);
    }
    return Py_BuildValue("(Nn)", grouped, dropped);
fail:
    Py_DECREF(grouped);
    return NULL;
}

static PyObject *configure(PyObject *Py_UNUSED(module), PyObject *args) {
    PyObject *ok, *rejected, *retried, *manual, *rejections, *retries, *duplicates, *interventions, *contract, *separator,
        *sort_key, *summary_type, *bounds;
    Py_ssize_t max_keys, max_reason;
    if (!PyArg_ParseTuple(args, "UUUUUUUUUUOnnO!O!", &ok, &rejected, &retried, &manual, &rejections, &retries,
                          &duplicates, &interventions, &contract, &separator, &sort_key, &max_keys, &max_reason,
                          &PyType_Type, &summary_type, &PyTuple_Type, &bounds))
        return NULL;
    Py_ssize_t n = PyTuple_GET_SIZE(bounds);
    if (!PyType_IsSubtype((PyTypeObject *)summary_type, &PyTuple_Type) || n < 1 || n > MAX_BOUNDS) {
        PyErr_SetString(PyExc_ValueError, "a tuple type for summaries, and 1 to 64 bucket bounds");
        return NULL;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        double b = PyFloat_AsDouble(PyTuple_GET_ITEM(bounds, i));
        if (b == -1.0 && PyErr_Occurred())
            return NULL;
        if ((i && !(b > BOUNDS[i - 1])) || (i == n - 1 && b != INFINITY)) {
            PyErr_SetString(PyExc_ValueError, "bucket bounds rise and end with +Inf");
            return NULL;
        }
        BOUNDS[i] = b;
    }
    N_BOUNDS = n;
    Py_XSETREF(SUMMARY_TYPE, (PyTypeObject *)Py_NewRef(summary_type));
    PyObject *kwargs = Py_BuildValue("{sO}", "key", sort_key);
    if (kwargs == NULL)
        return NULL;
    Py_XSETREF(SORT_KWARGS, kwargs);
    Py_XSETREF(OK, Py_NewRef(ok));
    Py_XSETREF(REJECTED, Py_NewRef(rejected));
    Py_XSETREF(RETRIED, Py_NewRef(retried));
    Py_XSETREF(MANUAL, Py_NewRef(manual));
    Py_XSETREF(M_REJECTIONS, Py_NewRef(rejections));
    Py_XSETREF(M_RETRIES, Py_NewRef(retries));
    Py_XSETREF(M_DUPLICATES, Py_NewRef(duplicates));
    Py_XSETREF(M_INTERVENTIONS, Py_NewRef(interventions));
    Py_XSETREF(M_CONTRACT, Py_NewRef(contract));
    Py_XSETREF(SEPARATOR, Py_NewRef(separator));
    MAX_SPAN_KEYS = max_keys;
    MAX_REASON = max_reason;
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"configure", configure, METH_VARARGS,
     "configure(ok, rejected, retried, manual, rejections, retries, duplicates, interventions, contract, separator, "
     "sort_key, max_span_keys, max_reason, summary_type, bounds): the words, limits and latency buckets fold_py uses."},
    {"group", group, METH_VARARGS,
     "group(batches, plans) -> ({flow: {entity_id: [event, ...]}}, events of flows not in plans)."},
    {"fold_flow", fold_flow, METH_VARARGS,
     "fold_flow(flow, entities, rows, pairs_by_stage, end_stage, now, counts, latency) -> "
     "(inserts, updates, accepted, redelivered)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "flowhealth.traces._fold", "Stage events folded into journey rows.", -1, methods,
};

PyMODINIT_FUNC PyInit__fold(void) {
    EMPTY = PyUnicode_FromString("");
    SPACE = PyUnicode_FromString(" ");
    NO_ARGS = PyTuple_New(0);
    if (EMPTY == NULL || SPACE == NULL || NO_ARGS == NULL)
        return NULL;
    return PyModule_Create(&module);
}
