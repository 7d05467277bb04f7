/* The compiled parts of tracing (issue 15): Relay, a traced stream's per-chunk loop (described where it is defined);
 * text_run, the per-event checks of folding a Responses stream; and four parts of writing JSON, quote (a text's JSON
 * string literal), plain_room (the walk that finds a value plain JSON), plain_json (the writer of such a value) and
 * plain_documents (a retriever's plain rows with their MLflow and ranking JSON), described where they are defined.
 *
 * text_run(events, delta_type) answers what tracing._stream._python_text_run answers: for a list made only of plain
 * text deltas of one item (exact dicts of exactly the keys "type", "item_id" and "delta", the type equal to
 * delta_type, every item_id equal to the first one's, every delta a str) the tuple (item_id, the deltas joined);
 * for any other list, None. KeyError and TypeError raised by a hostile key's or value's __eq__ make the answer None,
 * as the Python version catches them; any other error is raised.
 *
 * Why compiled: in CPython 3.11 those checks cost about 1,500 interpreter instructions an event, a third of what
 * tracing adds to each event of a ResponsesAgent stream; here they cost about 400. No library folds these events.
 * The extension is optional: without a compiler, tracing._stream uses the Python version; the tests hold the two
 * to the same answers.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

static PyObject *key_type, *key_item_id, *key_delta, *empty;
static PyObject *str_step, *str_finish, *str_throw, *str_close, *str_send, *str_cancelled, *empty_tuple;
static PyObject *str_text_item, *str_text_parts, *str_node, *str_score, *str_text, *str_parts, *str_folded;
static PyObject *json_quote; /* json.encoder.encode_basestring */
static PyObject *json_encode; /* json.JSONEncoder(ensure_ascii=False, check_circular=False).encode */

/* 1 when equal (identity first, as dict lookups compare), 0 when not or when __eq__ raised KeyError or TypeError
 * (cleared), -1 on any other error. Both operands are held for the call: __eq__ may drop their last reference. */
static int
equal(PyObject *a, PyObject *b)
{
    int result;
    Py_INCREF(a);
    Py_INCREF(b);
    result = PyObject_RichCompareBool(a, b, Py_EQ);
    Py_DECREF(a);
    Py_DECREF(b);
    if (result < 0 && (PyErr_ExceptionMatches(PyExc_KeyError) || PyErr_ExceptionMatches(PyExc_TypeError))) {
        PyErr_Clear();
        return 0;
    }
    return result;
}

/* An exact dict's value for a key, a new reference; NULL with no error set when absent (or when a colliding key's
 * __eq__ raised KeyError or TypeError), NULL with the error set on any other error. */
static PyObject *
get(PyObject *dict, PyObject *key)
{
    PyObject *value = PyDict_GetItemWithError(dict, key);
    if (value == NULL) {
        if (PyErr_Occurred() && (PyErr_ExceptionMatches(PyExc_KeyError) || PyErr_ExceptionMatches(PyExc_TypeError)))
            PyErr_Clear();
        return NULL;
    }
    Py_INCREF(value);
    return value;
}

/* The three values (new references) of a dict of three items whose keys are exactly the interned "type", "item_id"
 * and "delta" (as a dict display makes them), read in one pass without a lookup: 1. Otherwise 0, nothing held. */
static int
read_fields(PyObject *dict, PyObject **type, PyObject **item_id, PyObject **delta)
{
    Py_ssize_t pos = 0, read = 0;
    PyObject *key, *value;
    *type = *item_id = *delta = NULL;
    while (read++ < 3 && PyDict_Next(dict, &pos, &key, &value)) { /* the callers checked the size */
        if (key == key_type && *type == NULL)
            *type = value;
        else if (key == key_item_id && *item_id == NULL)
            *item_id = value;
        else if (key == key_delta && *delta == NULL)
            *delta = value;
        else
            return 0;
    }
    if (*type == NULL || *item_id == NULL || *delta == NULL)
        return 0;
    Py_INCREF(*type);
    Py_INCREF(*item_id);
    Py_INCREF(*delta);
    return 1;
}

static PyObject *
text_run(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    PyObject *snapshot, *deltas = NULL, *item_id = NULL, *text, *result = NULL;
    Py_ssize_t n, i;

    if (nargs != 2 || !PyList_Check(args[0])) {
        PyErr_SetString(PyExc_TypeError, "text_run(events: list, delta_type: str)");
        return NULL;
    }
    snapshot = PyList_AsTuple(args[0]); /* an __eq__ called below may change the list, never this tuple */
    if (snapshot == NULL)
        return NULL;
    n = PyTuple_GET_SIZE(snapshot);
    if (n == 0)
        goto none;
    deltas = PyList_New(n);
    if (deltas == NULL)
        goto done;
    for (i = 0; i < n; i++) {
        PyObject *event = PyTuple_GET_ITEM(snapshot, i), *type, *id, *delta;
        int same;
        if (!PyDict_CheckExact(event) || PyDict_GET_SIZE(event) != 3)
            goto none;
        if (!read_fields(event, &type, &id, &delta)) {
            /* keys that are not the interned ones: looked up, and compared, in the order the Python version does */
            type = get(event, key_type);
            if (type == NULL)
                goto check;
            same = equal(type, args[1]);
            Py_DECREF(type);
            if (same <= 0)
                goto compared;
            id = get(event, key_item_id);
            if (id == NULL)
                goto check;
            if (item_id == NULL)
                item_id = Py_NewRef(id);
            same = equal(id, item_id);
            Py_DECREF(id);
            if (same <= 0)
                goto compared;
            delta = get(event, key_delta);
            if (delta == NULL)
                goto check;
        }
        else {
            if (item_id == NULL)
                item_id = Py_NewRef(id);
            same = equal(type, args[1]);
            if (same > 0)
                same = equal(id, item_id);
            Py_DECREF(type);
            Py_DECREF(id);
            if (same <= 0) {
                Py_DECREF(delta);
                goto compared;
            }
        }
        if (!PyUnicode_Check(delta)) {
            Py_DECREF(delta);
            goto none;
        }
        PyList_SET_ITEM(deltas, i, delta); /* the list takes the reference */
    }
    text = PyUnicode_Join(empty, deltas);
    if (text == NULL)
        goto done;
    result = PyTuple_Pack(2, item_id, text);
    Py_DECREF(text);
    goto done;
compared: /* not equal (0), or an error (-1) */
check: /* absent, or an error */
    if (PyErr_Occurred())
        goto done;
none:
    result = Py_NewRef(Py_None);
done:
    Py_DECREF(snapshot);
    Py_XDECREF(deltas);
    Py_XDECREF(item_id);
    return result;
}


/* Relay(ctx, gen, stream, delta_type): the per-chunk loop of tracing._decorator._traced_generator, compiled.
 *
 * The traced generator stays a Python generator (`return (yield from Relay(...))`), so what a caller sees is still a
 * types.GeneratorType whose send, throw and close Python delegates here. Each step runs gen's step inside ctx (the
 * span is current only while the body runs, SPEC 3.3), appends the chunk to stream.chunks and, every stream.step()
 * chunks, calls stream.step(). On return, error or close it calls stream.finish as the Python loop in
 * _traced_generator does: finish() on return, finish(exc) on error, finish(cancelled=True) after a clean close.
 *
 * After each stream.step(), stream.text_item may name an open Responses item. While no chunk waits in stream.chunks,
 * a plain text delta of that item (see plain_delta) then has only its delta appended to stream.text_parts, which the
 * next step joins into the item's text before folding anything else; the event itself is not held. When only such
 * deltas wait, that step is done here (join_set_aside) instead of in Python. The Python loop never sets deltas aside;
 * the tests hold both to the same output.
 *
 * Why compiled: the Python loop costs about 1,000 interpreter instructions a chunk over the floor's `for` loop, half
 * of what tracing adds to each chunk, and a held event 200 bytes for a few characters of text; no library runs a
 * generator's steps in a context.
 */
typedef struct {
    PyObject_HEAD
    PyObject *ctx;    /* the contextvars.Context the body runs in */
    PyObject *gen;    /* the traced generator */
    PyObject *stream; /* the tracing._decorator._Stream recording it */
    PyObject *chunks; /* stream.chunks */
    PyObject *text_item, *text_parts; /* stream.text_item and stream.text_parts as the last step left them */
    PyObject *delta_type; /* the type of a Responses text delta */
    PyObject *type_seen;  /* the last event type found equal to delta_type (the body yields the same str mostly) */
    Py_ssize_t left;  /* chunks until the next stream.step() */
    Py_ssize_t text_every; /* what stream.step() answered the last time it left only text set aside (0: not yet) */
    char running, done;
} Relay;

static PyTypeObject RelayType;

static PyObject *
relay_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    PyObject *ctx, *gen, *stream, *delta_type, *chunks;
    Relay *self;
    if (!PyArg_ParseTuple(args, "O!OOU:Relay", &PyContext_Type, &ctx, &gen, &stream, &delta_type))
        return NULL;
    chunks = PyObject_GetAttrString(stream, "chunks");
    if (chunks == NULL)
        return NULL;
    if (!PyList_CheckExact(chunks)) {
        Py_DECREF(chunks);
        PyErr_SetString(PyExc_TypeError, "Relay: stream.chunks must be a list");
        return NULL;
    }
    self = (Relay *)type->tp_alloc(type, 0);
    if (self == NULL) {
        Py_DECREF(chunks);
        return NULL;
    }
    self->ctx = Py_NewRef(ctx);
    self->gen = Py_NewRef(gen);
    self->stream = Py_NewRef(stream);
    self->chunks = chunks;
    self->delta_type = Py_NewRef(delta_type);
    self->left = 1;
    return (PyObject *)self;
}

static int
relay_traverse(Relay *self, visitproc visit, void *arg)
{
    Py_VISIT(self->ctx);
    Py_VISIT(self->gen);
    Py_VISIT(self->stream);
    Py_VISIT(self->chunks);
    Py_VISIT(self->text_item);
    Py_VISIT(self->text_parts);
    Py_VISIT(self->delta_type);
    Py_VISIT(self->type_seen);
    return 0;
}

static int
relay_clear(Relay *self)
{
    Py_CLEAR(self->ctx);
    Py_CLEAR(self->gen);
    Py_CLEAR(self->stream);
    Py_CLEAR(self->chunks);
    Py_CLEAR(self->text_item);
    Py_CLEAR(self->text_parts);
    Py_CLEAR(self->delta_type);
    Py_CLEAR(self->type_seen);
    return 0;
}

static void
relay_dealloc(Relay *self)
{
    PyObject_GC_UnTrack(self);
    relay_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* stream.finish(error) with the error the body raised (taken from the error indicator and set again after), as
 * `except BaseException as exc: stream.finish(exc); raise` does; an error finish raises replaces it, chained. */
static void
finish_failed(Relay *self)
{
    PyObject *type, *value, *tb, *result;
    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    if (tb != NULL)
        PyException_SetTraceback(value, tb);
    result = self->stream == NULL ? Py_NewRef(Py_None) : PyObject_CallMethodOneArg(self->stream, str_finish, value);
    if (result != NULL) {
        Py_DECREF(result);
        PyErr_Restore(type, value, tb);
        return;
    }
    {
        PyObject *type2, *value2, *tb2;
        PyErr_Fetch(&type2, &value2, &tb2);
        PyErr_NormalizeException(&type2, &value2, &tb2);
        PyException_SetContext(value2, value); /* steals value */
        Py_XDECREF(type);
        Py_XDECREF(tb);
        PyErr_Restore(type2, value2, tb2);
    }
}

/* The value of a StopIteration being raised (a new reference; the error cleared), or NULL leaving any other error. */
static PyObject *
stop_value(void)
{
    PyObject *type, *value, *tb, *result;
    if (!PyErr_ExceptionMatches(PyExc_StopIteration))
        return NULL;
    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    result = value == NULL ? Py_NewRef(Py_None) : PyObject_GetAttrString(value, "value");
    Py_XDECREF(type);
    Py_XDECREF(value);
    Py_XDECREF(tb);
    return result;
}

/* Leave ctx, keeping whatever error the body raised: 0. -1 with that error replaced when ctx could not be left (the
 * body left it itself), so that is reported rather than what the body gave. */
static int
leave(PyObject *ctx)
{
    PyObject *type, *value, *tb;
    if (!PyErr_Occurred()) /* the common case: a chunk */
        return PyContext_Exit(ctx);
    PyErr_Fetch(&type, &value, &tb);
    if (PyContext_Exit(ctx) < 0) {
        Py_XDECREF(type);
        Py_XDECREF(value);
        Py_XDECREF(tb);
        return -1;
    }
    PyErr_Restore(type, value, tb);
    return 0;
}

/* After stream.step(): the item whose plain text deltas go to stream.text_parts (a str, with a list), or none. */
static int
rearm(Relay *self)
{
    PyObject *item = PyObject_GetAttr(self->stream, str_text_item), *parts;
    if (item == NULL)
        return -1;
    if (!PyUnicode_CheckExact(item)) {
        Py_DECREF(item);
        Py_CLEAR(self->text_item);
        Py_CLEAR(self->text_parts);
        return 0;
    }
    parts = PyObject_GetAttr(self->stream, str_text_parts);
    if (parts == NULL) {
        Py_DECREF(item);
        return -1;
    }
    if (!PyList_CheckExact(parts)) {
        Py_DECREF(item);
        Py_DECREF(parts);
        Py_CLEAR(self->text_item);
        Py_CLEAR(self->text_parts);
        return 0;
    }
    Py_XSETREF(self->text_item, item);
    Py_XSETREF(self->text_parts, parts);
    return 0;
}

/* The delta (a new reference) of a plain text delta of self->text_item: an exact dict of exactly the interned keys
 * "type", "item_id" and "delta", whose values are exact str, the type equal to self->delta_type and the item_id to
 * text_item; NULL, with no error set, for any other chunk. Only exact str are compared, so no Python code runs. */
static PyObject *
plain_delta(Relay *self, PyObject *chunk)
{
    PyObject *type, *id, *delta;
    int plain;
    if (!PyDict_CheckExact(chunk) || PyDict_GET_SIZE(chunk) != 3 || !read_fields(chunk, &type, &id, &delta))
        return NULL;
    plain = PyUnicode_CheckExact(type) && PyUnicode_CheckExact(id) && PyUnicode_CheckExact(delta)
            && (id == self->text_item || PyUnicode_Compare(id, self->text_item) == 0)
            && (type == self->delta_type || type == self->type_seen || PyUnicode_Compare(type, self->delta_type) == 0);
    if (plain && type != self->delta_type && type != self->type_seen)
        Py_XSETREF(self->type_seen, Py_NewRef(type));
    Py_DECREF(type);
    Py_DECREF(id);
    if (!plain)
        Py_CLEAR(delta);
    return delta;
}

/* What stream.step() does when only text deltas wait, set aside (stream._join_text): their text joined and written to
 * the item's text (stream.text, a TextBuffer: appended to its pieces, which are merged as TextBuffer.write merges
 * them), counted in stream.folded, and the deltas cleared. 0; -1 with no error set when the stream is not as
 * expected before anything changed (stream.step() then does it). A failure while merging (memory) leaves the pieces
 * unmerged, still the same text.
 *
 * Why here: stepping into Python every 32 deltas for this took about 230 instructions a delta, 7% of a traced
 * Responses event (bench_stream_layers.py --instructions --kinds events). */
static int
join_set_aside(Relay *self)
{
    PyObject *text, *pieces = NULL, *folded = NULL, *count = NULL, *joined = NULL;
    Py_ssize_t n = PyList_GET_SIZE(self->text_parts), m;
    int result = -1;
    if (n == 0)
        return -1;
    text = PyObject_GetAttr(self->stream, str_text);
    if (text != NULL)
        pieces = PyObject_GetAttr(text, str_parts);
    if (pieces != NULL && PyList_CheckExact(pieces))
        folded = PyObject_GetAttr(self->stream, str_folded);
    if (folded != NULL && PyLong_CheckExact(folded)) {
        PyObject *added = PyLong_FromSsize_t(n);
        count = added == NULL ? NULL : PyNumber_Add(folded, added);
        Py_XDECREF(added);
    }
    if (count != NULL)
        joined = PyUnicode_Join(empty, self->text_parts);
    if (joined != NULL && PyList_Append(pieces, joined) == 0) {
        /* TextBuffer.write: while the piece before the last is no longer than twice the last, they become one */
        while ((m = PyList_GET_SIZE(pieces)) > 1) {
            PyObject *before = PyList_GET_ITEM(pieces, m - 2), *last = PyList_GET_ITEM(pieces, m - 1), *merged;
            if (!PyUnicode_Check(before) || !PyUnicode_Check(last)
                || PyUnicode_GET_LENGTH(before) > 2 * PyUnicode_GET_LENGTH(last))
                break;
            merged = PyUnicode_Concat(before, last);
            if (merged == NULL || PyList_SetItem(pieces, m - 2, merged) < 0
                || PyList_SetSlice(pieces, m - 1, m, NULL) < 0)
                break;
        }
        PyErr_Clear(); /* a merge that failed (memory) leaves the pieces as they are: the same text */
        /* the deltas cleared first, so that they are written once even when the count cannot be set */
        if (PyList_SetSlice(self->text_parts, 0, n, NULL) < 0)
            PyErr_Clear();
        if (PyObject_SetAttr(self->stream, str_folded, count) < 0)
            PyErr_Clear(); /* the text is written; what the count says matters less than the call going on */
        result = 0;
    }
    PyErr_Clear();
    Py_XDECREF(joined);
    Py_XDECREF(count);
    Py_XDECREF(folded);
    Py_XDECREF(pieces);
    Py_XDECREF(text);
    return result;
}

/* One step of gen in ctx: gen.send(arg), or gen.throw(*throw_args) when throw_args is not NULL. The chunk (a new
 * reference), or NULL with StopIteration(value) set when gen returned, or NULL with gen's error set. */
static PyObject *
relay_step(Relay *self, PyObject *arg, PyObject *throw_args)
{
    PyObject *result = NULL;
    PySendResult status;

    if (self->running) {
        PyErr_SetString(PyExc_ValueError, "generator already executing");
        return NULL;
    }
    if (self->done) { /* gen has finished: what it answers itself */
        if (throw_args != NULL) {
            PyObject *throw = PyObject_GetAttr(self->gen, str_throw);
            result = throw == NULL ? NULL : PyObject_Call(throw, throw_args, NULL);
            Py_XDECREF(throw);
            return result;
        }
        return PyObject_CallMethodOneArg(self->gen, str_send, arg);
    }
    self->running = 1;
    if (PyContext_Enter(self->ctx) < 0) {
        status = PYGEN_ERROR;
    }
    else {
        if (throw_args == NULL) {
            status = PyIter_Send(self->gen, arg, &result);
        }
        else {
            PyObject *throw = PyObject_GetAttr(self->gen, str_throw);
            result = throw == NULL ? NULL : PyObject_Call(throw, throw_args, NULL);
            Py_XDECREF(throw);
            if (result != NULL)
                status = PYGEN_NEXT;
            else if ((result = stop_value()) != NULL)
                status = PYGEN_RETURN;
            else
                status = PYGEN_ERROR;
        }
        if (leave(self->ctx) < 0) {
            Py_CLEAR(result);
            status = PYGEN_ERROR;
        }
    }
    if (status == PYGEN_NEXT) {
        PyObject *delta = NULL;
        int kept;
        /* a plain text delta of the item stream.step() named, while no other chunk waits: its text set aside */
        if (self->text_item != NULL && PyList_GET_SIZE(self->chunks) == 0
            && (delta = plain_delta(self, result)) != NULL) {
            kept = PyList_Append(self->text_parts, delta);
            Py_DECREF(delta);
        }
        else {
            /* the first chunk not set aside: stream.step() now, which joins the text set aside before it and
             * answers how many chunks may wait from here */
            if (self->text_item != NULL && PyList_GET_SIZE(self->chunks) == 0)
                self->left = 1;
            kept = PyList_Append(self->chunks, result);
        }
        if (kept < 0)
            Py_CLEAR(result);
        else if (--self->left == 0) {
            if (self->text_every > 0 && self->text_item != NULL && PyList_GET_SIZE(self->chunks) == 0
                && join_set_aside(self) == 0) {
                self->left = self->text_every; /* what stream.step() answers here, without stepping into Python */
            }
            else {
                PyObject *left = PyObject_CallMethodNoArgs(self->stream, str_step);
                self->left = left == NULL ? -1 : PyLong_AsSsize_t(left);
                Py_XDECREF(left);
                if ((self->left == -1 && PyErr_Occurred()) || rearm(self) < 0)
                    Py_CLEAR(result);
                else if (self->text_item != NULL && PyList_GET_SIZE(self->chunks) == 0)
                    self->text_every = self->left; /* only text set aside from here: FOLD_TEXT_EVERY */
            }
        }
        self->running = 0;
        return result;
    }
    self->done = 1;
    if (status == PYGEN_RETURN) {
        PyObject *finished = PyObject_CallMethodNoArgs(self->stream, str_finish);
        self->running = 0;
        if (finished == NULL) {
            Py_DECREF(result);
            return NULL;
        }
        Py_DECREF(finished);
        if (result == Py_None) {
            PyErr_SetNone(PyExc_StopIteration);
        }
        else {
            PyObject *stop = PyObject_CallOneArg(PyExc_StopIteration, result);
            if (stop != NULL) {
                PyErr_SetObject(PyExc_StopIteration, stop);
                Py_DECREF(stop);
            }
        }
        Py_DECREF(result);
        return NULL;
    }
    finish_failed(self);
    self->running = 0;
    return NULL;
}

static PyObject *
relay_next(Relay *self)
{
    return relay_step(self, Py_None, NULL);
}

static PyObject *
relay_send(Relay *self, PyObject *arg)
{
    return relay_step(self, arg, NULL);
}

static PyObject *
relay_throw(Relay *self, PyObject *args)
{
    return relay_step(self, Py_None, args);
}

/* gen.close() in ctx, then stream.finish(cancelled=True), or stream.finish(exc) when close raised. */
static PyObject *
relay_close(Relay *self, PyObject *unused)
{
    PyObject *result = NULL;
    if (self->running) {
        PyErr_SetString(PyExc_ValueError, "generator already executing");
        return NULL;
    }
    if (self->done)
        return PyObject_CallMethodNoArgs(self->gen, str_close);
    self->running = 1;
    self->done = 1;
    if (PyContext_Enter(self->ctx) == 0) {
        result = PyObject_CallMethodNoArgs(self->gen, str_close);
        if (leave(self->ctx) < 0)
            Py_CLEAR(result);
    }
    if (result == NULL) {
        finish_failed(self);
    }
    else {
        PyObject *finish = PyObject_GetAttr(self->stream, str_finish), *kwargs = NULL, *finished = NULL;
        Py_DECREF(result);
        result = NULL;
        if (finish != NULL)
            kwargs = PyDict_New();
        if (kwargs != NULL && PyDict_SetItem(kwargs, str_cancelled, Py_True) == 0)
            finished = PyObject_Call(finish, empty_tuple, kwargs);
        if (finished != NULL)
            result = Py_NewRef(Py_None);
        Py_XDECREF(finished);
        Py_XDECREF(kwargs);
        Py_XDECREF(finish);
    }
    self->running = 0;
    return result;
}

static PyMethodDef relay_methods[] = {
    {"send", (PyCFunction)relay_send, METH_O, "send(value): the traced generator's next chunk, given value."},
    {"throw", (PyCFunction)relay_throw, METH_VARARGS, "throw(exc): raise exc in the traced generator."},
    {"close", (PyCFunction)relay_close, METH_NOARGS, "close(): close the traced generator, ending its span."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject RelayType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "tracing._speedups.Relay",
    .tp_basicsize = sizeof(Relay),
    .tp_dealloc = (destructor)relay_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "Relay(ctx, gen, stream, delta_type): the traced generator's steps, each run in ctx and recorded in "
              "stream; delta_type is the type of a Responses text delta.",
    .tp_traverse = (traverseproc)relay_traverse,
    .tp_clear = (inquiry)relay_clear,
    .tp_iter = PyObject_SelfIter,
    .tp_iternext = (iternextfunc)relay_next,
    .tp_methods = relay_methods,
    .tp_new = relay_new,
};

#define ONES 0x0101010101010101ULL
#define HIGHS 0x8080808080808080ULL
#define HAS_ZERO(x) (((x) - ONES) & ~(x) & HIGHS)
#define HAS_BELOW(x, n) (((x) - ONES * (n)) & ~(x) & HIGHS) /* n at most 128 */

/* How many characters of an exact str (ready) precede the first one a JSON string literal escapes (a '"', a '\\'
 * or one below U+0020): its length when there is none. */
static Py_ssize_t
unescaped(PyObject *text)
{
    Py_ssize_t i = 0, n = PyUnicode_GET_LENGTH(text);
    int kind = PyUnicode_KIND(text);
    const void *data = PyUnicode_DATA(text);
    if (kind == PyUnicode_1BYTE_KIND) {
        const Py_UCS1 *p = data;
        uint64_t word;
#ifdef __SSE2__
        /* sixteen characters at a time where the CPU has SSE2 (every x86-64): a byte is flagged when it equals '"'
         * or '\\', or when it is its own minimum with 0x1F (below 0x20, compared unsigned) */
        const __m128i quote_mark = _mm_set1_epi8('"'), backslash = _mm_set1_epi8('\\'), control = _mm_set1_epi8(0x1F);
        for (; i + 16 <= n; i += 16) {
            __m128i chunk = _mm_loadu_si128((const __m128i *)(p + i));
            __m128i flagged = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(chunk, quote_mark), _mm_cmpeq_epi8(chunk, backslash)),
                                           _mm_cmpeq_epi8(_mm_min_epu8(chunk, control), chunk));
            if (_mm_movemask_epi8(flagged))
                break;
        }
#endif
        /* eight characters at a time: any byte below 0x20, or equal to '"' or '\\' (exact tests: a word is
         * flagged only when it holds one) */
        for (; i + 8 <= n; i += 8) {
            memcpy(&word, p + i, 8);
            if (HAS_BELOW(word, 0x20) | HAS_ZERO(word ^ (ONES * '"')) | HAS_ZERO(word ^ (ONES * '\\')))
                break;
        }
        while (i < n && p[i] >= 0x20 && p[i] != '"' && p[i] != '\\')
            i++;
    }
    else if (kind == PyUnicode_2BYTE_KIND) {
        const Py_UCS2 *p = data;
        while (i < n && p[i] >= 0x20 && p[i] != '"' && p[i] != '\\')
            i++;
    }
    else {
        const Py_UCS4 *p = data;
        while (i < n && p[i] >= 0x20 && p[i] != '"' && p[i] != '\\')
            i++;
    }
    return i;
}

/* quote(text) answers what json.encoder.encode_basestring(text) answers: the JSON string literal of a str, as
 * json.dumps(..., ensure_ascii=False) writes it. A text with no character JSON escapes (", \ and those below U+0020),
 * which is most document text, is copied between double quotes in one pass; anything else (a text to escape, a str
 * subclass, not a str) goes to encode_basestring itself.
 *
 * Why compiled: encode_basestring reads each character twice through the generic character accessor (about 30
 * instructions a character in CPython 3.11); this scan costs about 3. A retriever's output holds its documents' text
 * once as JSON (10 documents of 1 KB: about 300,000 instructions fewer a retrieval). orjson and the like write
 * whole documents in their own format (no space after a separator), not the literal the json module's encoder
 * needs here. */
static PyObject *
quote(PyObject *module, PyObject *text)
{
    Py_ssize_t n;
    int kind, out_kind;
    PyObject *result;
    void *out;

    if (!PyUnicode_CheckExact(text))
        return PyObject_CallOneArg(json_quote, text);
#if PY_VERSION_HEX < 0x030C0000
    if (PyUnicode_READY(text) < 0)
        return NULL;
#endif
    n = PyUnicode_GET_LENGTH(text);
    if (unescaped(text) < n)
        return PyObject_CallOneArg(json_quote, text);
    kind = PyUnicode_KIND(text);
    result = PyUnicode_New(n + 2, PyUnicode_MAX_CHAR_VALUE(text));
    if (result == NULL)
        return NULL;
    out = PyUnicode_DATA(result);
    out_kind = PyUnicode_KIND(result); /* the text's own: the same largest character */
    PyUnicode_WRITE(out_kind, out, 0, '"');
    memcpy((char *)out + out_kind, PyUnicode_DATA(text), (size_t)n * (size_t)kind);
    PyUnicode_WRITE(out_kind, out, n + 1, '"');
    return result;
}

/* plain_json(value): the JSON text of a value made only of plain JSON (exact dicts with str keys, lists, tuples,
 * str, int, float, bool and None), exactly as json.dumps(value, ensure_ascii=False, check_circular=False) writes it.
 * Written here when every str in it is of the 1-byte kind (Latin-1: most text), else by that encoder of the json
 * module. TypeError for any other type anywhere in it, RecursionError when nested deeper than the interpreter's
 * recursion limit.
 *
 * Why compiled: the json module's C encoder makes a str for every string and number it writes, a list of each dict's
 * items and a list of pieces to join: about 20,000 instructions for a request of a dozen strings, which spans record
 * two or three times each. This copies each piece once into one buffer of bytes. */
typedef struct {
    char *data;
    Py_ssize_t size, capacity;
    Py_UCS4 largest; /* the largest character written: 127, or 255 once one beyond ASCII is */
    char first[512]; /* the buffer until more is needed */
} Buffer;

#define WIDE 1 /* a text wider than Latin-1: not written here */

/* An empty buffer, writing into its first bytes. */
static void
start(Buffer *buffer)
{
    buffer->data = buffer->first;
    buffer->size = 0;
    buffer->capacity = sizeof(buffer->first);
    buffer->largest = 127;
}

static void
release(Buffer *buffer)
{
    if (buffer->data != buffer->first)
        PyMem_Free(buffer->data);
}

/* The buffer's text as a str (of the 1-byte kind, its largest character the buffer's). */
static PyObject *
text_of(Buffer *buffer)
{
    PyObject *text = PyUnicode_New(buffer->size, buffer->largest);
    if (text != NULL)
        memcpy(PyUnicode_1BYTE_DATA(text), buffer->data, (size_t)buffer->size);
    return text;
}

/* Room for `more` bytes: 0, or -1 with MemoryError set. */
static int
reserve(Buffer *buffer, Py_ssize_t more)
{
    Py_ssize_t capacity;
    char *data;
    if (buffer->size + more <= buffer->capacity)
        return 0;
    if (more > PY_SSIZE_T_MAX / 2 - buffer->size) {
        PyErr_NoMemory();
        return -1;
    }
    capacity = buffer->capacity * 2 > buffer->size + more ? buffer->capacity * 2 : buffer->size + more;
    if (buffer->data == buffer->first) {
        data = PyMem_Malloc((size_t)capacity);
        if (data != NULL)
            memcpy(data, buffer->first, (size_t)buffer->size);
    }
    else {
        data = PyMem_Realloc(buffer->data, (size_t)capacity);
    }
    if (data == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    buffer->data = data;
    buffer->capacity = capacity;
    return 0;
}

static int
put(Buffer *buffer, const char *bytes, Py_ssize_t n)
{
    if (reserve(buffer, n) < 0)
        return -1;
    memcpy(buffer->data + buffer->size, bytes, (size_t)n);
    buffer->size += n;
    return 0;
}

/* Whether a str can be written here: 0 when it is of the 1-byte kind (the buffer's largest character raised to its
 * own), WIDE when it is wider, -1 with an error set. */
static int
narrow(Buffer *buffer, PyObject *text)
{
#if PY_VERSION_HEX < 0x030C0000
    if (PyUnicode_READY(text) < 0)
        return -1;
#endif
    if (PyUnicode_KIND(text) != PyUnicode_1BYTE_KIND)
        return WIDE;
    if (!PyUnicode_IS_ASCII(text))
        buffer->largest = 255;
    return 0;
}

/* The characters of a str: 0; WIDE when it is not of the 1-byte kind; -1 with an error set. */
static int
put_text(Buffer *buffer, PyObject *text)
{
    int result = narrow(buffer, text);
    if (result != 0)
        return result;
    return put(buffer, (const char *)PyUnicode_1BYTE_DATA(text), PyUnicode_GET_LENGTH(text));
}

static int
write_string(Buffer *buffer, PyObject *text)
{
    Py_ssize_t n;
    int result = narrow(buffer, text);
    if (result != 0)
        return result;
    n = PyUnicode_GET_LENGTH(text);
    if (unescaped(text) < n) { /* what encode_basestring writes (of the same kind: its escapes are ASCII) */
        PyObject *literal = PyObject_CallOneArg(json_quote, text);
        if (literal == NULL)
            return -1;
        result = put_text(buffer, literal);
        Py_DECREF(literal);
        return result;
    }
    if (reserve(buffer, n + 2) < 0)
        return -1;
    buffer->data[buffer->size] = '"';
    memcpy(buffer->data + buffer->size + 1, PyUnicode_1BYTE_DATA(text), (size_t)n);
    buffer->data[buffer->size + n + 1] = '"';
    buffer->size += n + 2;
    return 0;
}

static int write_plain(Buffer *buffer, PyObject *value);

/* A dict's or a list's or tuple's items, each held while it is written. */
static int
write_items(Buffer *buffer, PyObject *value)
{
    Py_ssize_t pos = 0, i;
    PyObject *key, *child;
    int result = 0;
    if (PyDict_CheckExact(value)) {
        if (put(buffer, "{", 1) < 0)
            return -1;
        for (i = 0; result == 0 && PyDict_Next(value, &pos, &key, &child); i++) {
            if (!PyUnicode_CheckExact(key)) {
                PyErr_Format(PyExc_TypeError, "plain_json: a key of type %.100s", Py_TYPE(key)->tp_name);
                return -1;
            }
            Py_INCREF(key);
            Py_INCREF(child);
            if (i && put(buffer, ", ", 2) < 0)
                result = -1;
            if (result == 0)
                result = write_string(buffer, key);
            if (result == 0)
                result = put(buffer, ": ", 2);
            if (result == 0)
                result = write_plain(buffer, child);
            Py_DECREF(key);
            Py_DECREF(child);
        }
        return result != 0 ? result : put(buffer, "}", 1);
    }
    if (put(buffer, "[", 1) < 0)
        return -1;
    for (i = 0; result == 0 && i < PySequence_Fast_GET_SIZE(value); i++) {
        child = Py_NewRef(PySequence_Fast_GET_ITEM(value, i));
        if (i && put(buffer, ", ", 2) < 0)
            result = -1;
        if (result == 0)
            result = write_plain(buffer, child);
        Py_DECREF(child);
    }
    return result != 0 ? result : put(buffer, "]", 1);
}

/* One value: 0; WIDE when a text in it is wider than Latin-1; -1 with an error set. */
static int
write_plain(Buffer *buffer, PyObject *value)
{
    int result;
    if (PyUnicode_CheckExact(value))
        return write_string(buffer, value);
    if (value == Py_None)
        return put(buffer, "null", 4);
    if (value == Py_True)
        return put(buffer, "true", 4);
    if (value == Py_False)
        return put(buffer, "false", 5);
    if (PyFloat_CheckExact(value) && !Py_IS_FINITE(PyFloat_AS_DOUBLE(value))) { /* as allow_nan=True writes them */
        double number = PyFloat_AS_DOUBLE(value);
        return number != number ? put(buffer, "NaN", 3) : number > 0 ? put(buffer, "Infinity", 8)
                                                                     : put(buffer, "-Infinity", 9);
    }
    if (PyLong_CheckExact(value) || PyFloat_CheckExact(value)) {
        PyObject *text = Py_TYPE(value)->tp_repr(value); /* int.__repr__ and float.__repr__, as json writes them */
        if (text == NULL)
            return -1;
        result = put_text(buffer, text);
        Py_DECREF(text);
        return result;
    }
    if (!PyDict_CheckExact(value) && !PyList_CheckExact(value) && !PyTuple_CheckExact(value)) {
        PyErr_Format(PyExc_TypeError, "plain_json: a value of type %.100s", Py_TYPE(value)->tp_name);
        return -1;
    }
    if (Py_EnterRecursiveCall(" while encoding a JSON object"))
        return -1;
    result = write_items(buffer, value);
    Py_LeaveRecursiveCall();
    return result;
}

static PyObject *
plain_json(PyObject *module, PyObject *value)
{
    Buffer buffer;
    PyObject *text = NULL;
    int result;
    start(&buffer);
    result = write_plain(&buffer, value);
    if (result == WIDE)
        text = PyObject_CallOneArg(json_encode, value);
    else if (result == 0)
        text = text_of(&buffer);
    release(&buffer);
    return text;
}

/* plain_room(value, room, secret, verdicts) answers what tracing._serialize._python_plain_room answers (see its
 * docstring): what is left of `room` after a value made only of plain JSON, -1 when it is not plain or does not fit,
 * -2 when it fits but has a key that `secret` (a callable, or None for no check) says is secret; `verdicts` (a dict
 * or None) holds the verdicts already known. The same walk (a stack, the last pushed first) and the same
 * arithmetic; an error raised by `secret` is raised.
 *
 * Why compiled: every JSON value a span records is walked first (so that plain values go whole to plain_json);
 * in Python the walk costs about 100 interpreter instructions an item, more than encoding it. */
#define MAX_INT_BITS 13000

/* The bit length of an exact int (as int.bit_length()): 0, or -1 with an error set. */
static int
int_bits(PyObject *value, long long *bits)
{
    int overflow;
    long long number = PyLong_AsLongLongAndOverflow(value, &overflow);
    unsigned long long magnitude;
    if (number == -1 && PyErr_Occurred())
        return -1;
    if (overflow) {
        PyObject *length = PyObject_CallMethod(value, "bit_length", NULL);
        if (length == NULL)
            return -1;
        *bits = PyLong_AsLongLong(length);
        Py_DECREF(length);
        return *bits == -1 && PyErr_Occurred() ? -1 : 0;
    }
    magnitude = number < 0 ? (unsigned long long)(-(number + 1)) + 1 : (unsigned long long)number;
    *bits = 0;
    while (magnitude) {
        (*bits)++;
        magnitude >>= 1;
    }
    return 0;
}

/* 1 with the cost of a scalar (str, int, bool, None) inside a container (`in_dict`: its key not counted) in *cost;
 * 0 for anything else (which the walk pushes); -1 for an int too long for plain JSON; -2 with an error set. */
static int
scalar_cost(PyObject *child, int in_dict, long long *cost)
{
    long long bits;
    if (PyUnicode_CheckExact(child)) {
        *cost = PyUnicode_GET_LENGTH(child) + (in_dict ? 8 : 2);
        return 1;
    }
    if (PyLong_CheckExact(child)) {
        if (int_bits(child, &bits) < 0)
            return -2;
        if (bits > MAX_INT_BITS)
            return -1;
        *cost = (in_dict ? 10 : 4) + bits / 3;
        return 1;
    }
    if (PyBool_Check(child) || child == Py_None) {
        *cost = in_dict ? 11 : 5;
        return 1;
    }
    return 0;
}

/* Push a new reference to object on a growing stack: 0, or -1 with MemoryError set. */
static int
push(PyObject ***stack, Py_ssize_t *size, Py_ssize_t *capacity, PyObject *object)
{
    if (*size == *capacity) {
        Py_ssize_t grown_capacity = *capacity * 2 + 16;
        PyObject **grown = PyMem_Realloc(*stack, sizeof(PyObject *) * (size_t)grown_capacity);
        if (grown == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        *stack = grown;
        *capacity = grown_capacity;
    }
    (*stack)[(*size)++] = Py_NewRef(object);
    return 0;
}

static PyObject *
plain_room(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    PyObject *value, *secret, *verdicts, *item = NULL, *key, *child;
    PyObject **stack = NULL;
    Py_ssize_t size = 0, capacity = 0, pos, i, n;
    long long room, cost;
    int found = 0, checking, kind, overflow;
    long long result;

    if (nargs < 2 || nargs > 4) {
        PyErr_SetString(PyExc_TypeError, "plain_room(value, room, secret=None, verdicts=None) takes 2 to 4 arguments");
        return NULL;
    }
    value = args[0];
    room = PyLong_AsLongLongAndOverflow(args[1], &overflow);
    if (room == -1 && PyErr_Occurred())
        return NULL;
    if (overflow) /* a room beyond a long long (a huge length limit): as large, or as negative, as answers alike */
        room = overflow > 0 ? LLONG_MAX / 2 : LLONG_MIN / 2;
    secret = nargs > 2 ? args[2] : Py_None;
    verdicts = nargs > 3 ? args[3] : Py_None;
    if (verdicts != Py_None && !PyDict_Check(verdicts)) {
        PyErr_SetString(PyExc_TypeError, "plain_room: verdicts must be a dict or None");
        return NULL;
    }
    checking = secret != Py_None;
    if (push(&stack, &size, &capacity, value) < 0)
        goto error;
    result = 0;
    while (size) {
        item = stack[--size];
        if (PyDict_CheckExact(item)) {
            room -= 2;
            pos = 0;
            while (PyDict_Next(item, &pos, &key, &child)) {
                if (!PyUnicode_CheckExact(key))
                    goto not_plain;
                Py_INCREF(key);
                Py_INCREF(child);
                if (checking) {
                    PyObject *verdict = verdicts == Py_None ? NULL : PyDict_GetItemWithError(verdicts, key);
                    int is_secret;
                    if (verdict == NULL && PyErr_Occurred()) {
                        Py_DECREF(key);
                        Py_DECREF(child);
                        goto error;
                    }
                    if (verdict != NULL) {
                        is_secret = PyObject_IsTrue(verdict);
                    }
                    else {
                        PyObject *answer = PyObject_CallOneArg(secret, key);
                        is_secret = answer == NULL ? -1 : PyObject_IsTrue(answer);
                        Py_XDECREF(answer);
                    }
                    if (is_secret < 0) {
                        Py_DECREF(key);
                        Py_DECREF(child);
                        goto error;
                    }
                    if (is_secret) {
                        found = 1;
                        checking = 0;
                    }
                }
                kind = scalar_cost(child, 1, &cost);
                if (kind > 0) {
                    room -= PyUnicode_GET_LENGTH(key) + cost;
                }
                else if (kind == 0) {
                    room -= PyUnicode_GET_LENGTH(key) + 6;
                    if (push(&stack, &size, &capacity, child) < 0)
                        kind = -2;
                }
                Py_DECREF(key);
                Py_DECREF(child);
                if (kind == -1)
                    goto not_plain;
                if (kind == -2)
                    goto error;
            }
        }
        else if (PyUnicode_CheckExact(item)) {
            room -= PyUnicode_GET_LENGTH(item) + 2;
        }
        else if (PyList_CheckExact(item) || PyTuple_CheckExact(item)) {
            n = PySequence_Fast_GET_SIZE(item);
            room -= 2 + 2 * (long long)n;
            for (i = 0; i < PySequence_Fast_GET_SIZE(item); i++) {
                child = PySequence_Fast_GET_ITEM(item, i);
                Py_INCREF(child);
                kind = scalar_cost(child, 0, &cost);
                if (kind > 0)
                    room -= cost;
                else if (kind == 0) {
                    if (push(&stack, &size, &capacity, child) < 0)
                        kind = -2;
                }
                Py_DECREF(child);
                if (kind == -1)
                    goto not_plain;
                if (kind == -2)
                    goto error;
            }
        }
        else if (PyLong_CheckExact(item) || PyBool_Check(item) || item == Py_None) {
            kind = scalar_cost(item, 0, &cost);
            if (kind == -1)
                goto not_plain;
            if (kind == -2)
                goto error;
            room -= cost;
        }
        else if (PyFloat_CheckExact(item)) {
            double number = PyFloat_AS_DOUBLE(item);
            if (number != number || number == Py_HUGE_VAL || number == -Py_HUGE_VAL)
                goto not_plain;
            room -= 24;
        }
        else {
            goto not_plain;
        }
        Py_CLEAR(item);
        if (room < 0)
            goto not_plain;
    }
    result = found ? -2 : room;
    goto done;
not_plain:
    result = -1;
done:
    Py_XDECREF(item);
    while (size)
        Py_DECREF(stack[--size]);
    PyMem_Free(stack);
    return PyLong_FromLongLong(result);
error:
    Py_XDECREF(item);
    while (size)
        Py_DECREF(stack[--size]);
    PyMem_Free(stack);
    return NULL;
}

/* plain_documents(rows, recorded, primary_key, text_column, uri_column, required, columns, max_length,
 * capture_content): a retriever's plain dict rows as tracing._retriever records them, in one pass: (the list of
 * `recorded` tuples _plain_dict_documents makes, MLflow's output JSON as _mlflow_json writes it, the GenAI ranking
 * JSON as _ranking_json writes it), each JSON None when it is longer than max_length (Python then shortens it). None,
 * for Python's general path, unless every row is an exact dict holding every `required` key and no "node", with an
 * exact ASCII str id within max_length, an exact str text (ASCII and within max_length when content is captured),
 * an ASCII str or None URI, a finite float or None score, and ASCII str, int, bool or None values in `columns`, the
 * metadata written within max_length: there the serializer's text() and cut() change nothing (the caller checks
 * that no value pattern or redaction callback applies), so the texts are kept as they are. An int too long to write
 * raises the ValueError int.__repr__ raises, as the Python loop does.
 *
 * Why compiled: the same in Python is four passes over the documents with a tuple, a dozen small strings and three
 * joins each; inside a serving request, where its code and objects are cold, it took twice the floor's one
 * json.dumps of the rows (84 us against 45 us a retrieval of 10 documents of 1 KB). */
static int
ascii(PyObject *text)
{
#if PY_VERSION_HEX < 0x030C0000
    if (PyUnicode_READY(text) < 0)
        return -1;
#endif
    return PyUnicode_IS_ASCII(text);
}

/* A value of a dict (a new reference), NULL with no error when absent. */
static PyObject *
lookup(PyObject *dict, PyObject *key)
{
    PyObject *value = PyDict_GetItemWithError(dict, key);
    return Py_XNewRef(value);
}

/* A str written as JSON into an ASCII buffer: 0; 1 when it would not be ASCII; -1 with an error set. */
static int
write_ascii_string(Buffer *buffer, PyObject *text)
{
    int result = ascii(text);
    if (result <= 0)
        return result < 0 ? -1 : 1;
    return write_string(buffer, text);
}

/* A metadata value (an ASCII str, an int, a bool or None) as plain_json writes it: 0; 1 for any other value;
 * -1 with an error set (an int beyond the digits limit: what Python's path raises too). */
static int
write_scalar(Buffer *buffer, PyObject *value)
{
    if (PyUnicode_CheckExact(value))
        return write_ascii_string(buffer, value);
    if (value == Py_None || PyBool_Check(value) || PyLong_CheckExact(value))
        return write_plain(buffer, value);
    return 1;
}

static PyObject *
plain_documents(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    PyObject *rows, *recorded_type, *primary_key, *text_column, *uri_column, *required, *columns;
    PyObject *recorded = NULL, *row = NULL, *id = NULL, *content = NULL, *score = NULL, *uri = NULL, *value = NULL;
    PyObject *metadata = NULL, *id_json = NULL, *fields = NULL, *item = NULL, *mlflow_json = NULL, *ranking_json = NULL;
    Py_ssize_t max_length, i, j;
    int capture, written;
    Buffer mlflow, ranking, meta;

    if (nargs != 9) {
        PyErr_SetString(PyExc_TypeError, "plain_documents expects 9 arguments");
        return NULL;
    }
    rows = args[0], recorded_type = args[1], primary_key = args[2], text_column = args[3], uri_column = args[4];
    required = args[5], columns = args[6];
    if (!PyType_Check(recorded_type) || !PyType_IsSubtype((PyTypeObject *)recorded_type, &PyTuple_Type)
        || !PyTuple_CheckExact(required) || !PyTuple_CheckExact(columns)) {
        PyErr_SetString(PyExc_TypeError, "plain_documents: a tuple type, and tuples of required keys and columns");
        return NULL;
    }
    max_length = PyLong_AsSsize_t(args[7]);
    if (max_length == -1 && PyErr_Occurred())
        return NULL;
    capture = PyObject_IsTrue(args[8]);
    if (capture < 0)
        return NULL;
    if (!PyList_CheckExact(rows) || PyList_GET_SIZE(rows) == 0)
        Py_RETURN_NONE;
    recorded = PyList_New(0);
    if (recorded == NULL)
        return NULL;
    start(&mlflow);
    start(&ranking);
    start(&meta);
    if (put(&mlflow, "[", 1) < 0 || put(&ranking, "[", 1) < 0)
        goto error;
    /* every reference is held while it is used: a key's __eq__ (a dict with other keys than str) may run code */
    for (i = 0; i < PyList_GET_SIZE(rows); i++) {
        row = Py_NewRef(PyList_GET_ITEM(rows, i));
        if (!PyDict_CheckExact(row))
            goto not_plain;
        for (j = 0; j < PyTuple_GET_SIZE(required); j++) {
            written = PyDict_Contains(row, PyTuple_GET_ITEM(required, j));
            if (written < 0)
                goto error;
            if (written == 0)
                goto not_plain;
        }
        {
            PyObject *node = PyDict_GetItemWithError(row, str_node); /* borrowed, only compared */
            if (node == NULL && PyErr_Occurred())
                goto error;
            if (node != NULL && node != Py_None)
                goto not_plain;
        }
        written = 0;
        if ((id = lookup(row, primary_key)) == NULL || (content = lookup(row, text_column)) == NULL
            || (score = lookup(row, str_score)) == NULL
            || (uri_column != Py_None && (uri = lookup(row, uri_column)) == NULL)) {
            if (PyErr_Occurred())
                goto error;
            goto not_plain; /* removed by a key's __eq__ */
        }
        if (!PyUnicode_CheckExact(id) || (written = ascii(id)) <= 0 || PyUnicode_GET_LENGTH(id) > max_length
            || !PyUnicode_CheckExact(content)
            || (capture && ((written = ascii(content)) <= 0 || PyUnicode_GET_LENGTH(content) > max_length))
            || (uri != NULL && uri != Py_None && (!PyUnicode_CheckExact(uri) || (written = ascii(uri)) <= 0))
            || (score != Py_None && (!PyFloat_CheckExact(score) || !isfinite(PyFloat_AS_DOUBLE(score))))) {
            if (written < 0)
                goto error;
            goto not_plain;
        }
        /* the metadata: {"doc_uri": ..., "column": value, ...} */
        meta.size = 0;
        if (uri != NULL && uri != Py_None) {
            if (put(&meta, "{\"doc_uri\": ", 12) < 0)
                goto error;
            if ((written = write_ascii_string(&meta, uri)) != 0)
                goto failed;
        }
        for (j = 0; j < PyTuple_GET_SIZE(columns); j++) {
            PyObject *column = PyTuple_GET_ITEM(columns, j);
            if (!PyUnicode_CheckExact(column))
                goto not_plain;
            if (put(&meta, meta.size ? ", " : "{", meta.size ? 2 : 1) < 0)
                goto error;
            if ((written = write_ascii_string(&meta, column)) != 0)
                goto failed;
            if (put(&meta, ": ", 2) < 0)
                goto error;
            value = lookup(row, column);
            if (value == NULL) {
                if (PyErr_Occurred())
                    goto error;
                goto not_plain;
            }
            if ((written = write_scalar(&meta, value)) != 0)
                goto failed;
            Py_CLEAR(value);
        }
        if (meta.size) {
            if (put(&meta, "}", 1) < 0)
                goto error;
            if (meta.size > max_length)
                goto not_plain;
            if ((metadata = text_of(&meta)) == NULL)
                goto error;
        }
        id_json = quote(module, id);
        if (id_json == NULL)
            goto error;
        /* MLflow's document: {"page_content": ..., "metadata": {"chunk_id": ..., ...}, "id": ...} */
        if ((i && put(&mlflow, ",", 1) < 0) || put(&mlflow, "{\"page_content\": ", 17) < 0)
            goto error;
        if (capture) {
            if ((written = write_ascii_string(&mlflow, content)) != 0)
                goto failed;
        }
        else if (put(&mlflow, "\"\"", 2) < 0) {
            goto error;
        }
        if (put(&mlflow, ", \"metadata\": {\"chunk_id\": ", 27) < 0 || put_text(&mlflow, id_json) != 0
            || (meta.size && (put(&mlflow, ", ", 2) < 0 || put(&mlflow, meta.data + 1, meta.size - 1) < 0))
            || (!meta.size && put(&mlflow, "}", 1) < 0)
            || put(&mlflow, ", \"id\": ", 8) < 0 || put_text(&mlflow, id_json) != 0 || put(&mlflow, "}", 1) < 0)
            goto error;
        /* the GenAI ranking: {"id": ..., "score": ...} */
        if ((i && put(&ranking, ",", 1) < 0) || put(&ranking, "{\"id\": ", 7) < 0 || put_text(&ranking, id_json) != 0
            || put(&ranking, ", \"score\": ", 11) < 0)
            goto error;
        if (score == Py_None) {
            if (put(&ranking, "null", 4) < 0)
                goto error;
        }
        else {
            PyObject *digits = PyObject_Repr(score);
            if (digits == NULL)
                goto error;
            written = put_text(&ranking, digits);
            Py_DECREF(digits);
            if (written != 0)
                goto error;
        }
        if (put(&ranking, "}", 1) < 0)
            goto error;
        fields = PyTuple_Pack(6, id, capture ? content : empty, score, metadata == NULL ? Py_None : metadata,
                              Py_False, id_json);
        if (fields == NULL)
            goto error;
        value = PyTuple_Pack(1, fields);
        item = value == NULL ? NULL : PyTuple_Type.tp_new((PyTypeObject *)recorded_type, value, NULL);
        Py_CLEAR(value);
        Py_CLEAR(fields);
        if (item == NULL || PyList_Append(recorded, item) < 0)
            goto error;
        Py_CLEAR(item);
        Py_CLEAR(metadata);
        Py_CLEAR(id_json);
        Py_CLEAR(id);
        Py_CLEAR(content);
        Py_CLEAR(score);
        Py_CLEAR(uri);
        Py_CLEAR(row);
    }
    if (put(&mlflow, "]", 1) < 0 || put(&ranking, "]", 1) < 0)
        goto error;
    mlflow_json = mlflow.size <= max_length ? text_of(&mlflow) : Py_NewRef(Py_None);
    ranking_json = ranking.size <= max_length ? text_of(&ranking) : Py_NewRef(Py_None);
    if (mlflow_json == NULL || ranking_json == NULL)
        goto error;
    release(&mlflow);
    release(&ranking);
    release(&meta);
    return Py_BuildValue("(NNN)", recorded, mlflow_json, ranking_json);
failed: /* a writer answered 1 (not written here) or -1 (an error) */
    if (written < 0)
        goto error;
not_plain:
    Py_XDECREF(row), Py_XDECREF(id), Py_XDECREF(content), Py_XDECREF(score), Py_XDECREF(uri), Py_XDECREF(value);
    Py_XDECREF(metadata), Py_XDECREF(id_json), Py_XDECREF(recorded);
    release(&mlflow);
    release(&ranking);
    release(&meta);
    Py_RETURN_NONE;
error:
    Py_XDECREF(row), Py_XDECREF(id), Py_XDECREF(content), Py_XDECREF(score), Py_XDECREF(uri), Py_XDECREF(value);
    Py_XDECREF(metadata), Py_XDECREF(id_json), Py_XDECREF(recorded), Py_XDECREF(fields), Py_XDECREF(item);
    Py_XDECREF(mlflow_json), Py_XDECREF(ranking_json);
    release(&mlflow);
    release(&ranking);
    release(&meta);
    return NULL;
}

static PyMethodDef methods[] = {
    {"plain_room", (PyCFunction)(void (*)(void))plain_room, METH_FASTCALL,
     "plain_room(value, room, secret=None, verdicts=None) -> what tracing._serialize._python_plain_room answers."},
    {"plain_json", (PyCFunction)plain_json, METH_O,
     "plain_json(value) -> json.dumps(value, ensure_ascii=False) of a value made only of plain JSON types."},
    {"plain_documents", (PyCFunction)(void (*)(void))plain_documents, METH_FASTCALL,
     "plain_documents(rows, recorded, primary_key, text_column, uri_column, required, columns, max_length, "
     "capture_content) -> (documents, MLflow JSON, ranking JSON) for plain dict rows, else None."},
    {"quote", (PyCFunction)quote, METH_O,
     "quote(text) -> the JSON string literal of text, as json.encoder.encode_basestring(text) writes it."},
    {"text_run", (PyCFunction)(void (*)(void))text_run, METH_FASTCALL,
     "text_run(events, delta_type) -> (item_id, text) for a list of plain text deltas of one item, else None."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "tracing._speedups",
    "The compiled parts of tracing: a traced stream's per-chunk loop, its fold's per-event checks, JSON string "
    "literals, the plain JSON walk and writer, and a retriever's plain rows (optional).", -1,
    methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC
PyInit__speedups(void)
{
    PyObject *m, *json_encoder, *encoder_type, *options, *encoder;
    empty_tuple = PyTuple_New(0);
    if (empty_tuple == NULL)
        return NULL;
    json_encoder = PyImport_ImportModule("json.encoder");
    if (json_encoder == NULL)
        return NULL;
    json_quote = PyObject_GetAttrString(json_encoder, "encode_basestring");
    encoder_type = PyObject_GetAttrString(json_encoder, "JSONEncoder");
    Py_DECREF(json_encoder);
    if (json_quote == NULL || encoder_type == NULL)
        return NULL;
    options = Py_BuildValue("{sOsO}", "ensure_ascii", Py_False, "check_circular", Py_False);
    encoder = options == NULL ? NULL : PyObject_Call(encoder_type, empty_tuple, options);
    Py_DECREF(encoder_type);
    Py_XDECREF(options);
    if (encoder == NULL)
        return NULL;
    json_encode = PyObject_GetAttrString(encoder, "encode");
    Py_DECREF(encoder);
    if (json_encode == NULL)
        return NULL;
    key_type = PyUnicode_InternFromString("type");
    key_item_id = PyUnicode_InternFromString("item_id");
    key_delta = PyUnicode_InternFromString("delta");
    empty = PyUnicode_FromString("");
    str_step = PyUnicode_InternFromString("step");
    str_finish = PyUnicode_InternFromString("finish");
    str_throw = PyUnicode_InternFromString("throw");
    str_close = PyUnicode_InternFromString("close");
    str_send = PyUnicode_InternFromString("send");
    str_cancelled = PyUnicode_InternFromString("cancelled");
    str_text_item = PyUnicode_InternFromString("text_item");
    str_text_parts = PyUnicode_InternFromString("text_parts");
    str_node = PyUnicode_InternFromString("node");
    str_score = PyUnicode_InternFromString("score");
    str_text = PyUnicode_InternFromString("text");
    str_parts = PyUnicode_InternFromString("parts");
    str_folded = PyUnicode_InternFromString("folded");
    if (key_type == NULL || key_item_id == NULL || key_delta == NULL || empty == NULL || str_step == NULL
        || str_finish == NULL || str_throw == NULL || str_close == NULL || str_send == NULL || str_cancelled == NULL
        || empty_tuple == NULL || str_text_item == NULL || str_text_parts == NULL || str_node == NULL
        || str_score == NULL || str_text == NULL || str_parts == NULL || str_folded == NULL
        || PyType_Ready(&RelayType) < 0)
        return NULL;
    m = PyModule_Create(&module);
    if (m == NULL)
        return NULL;
    if (PyModule_AddObjectRef(m, "Relay", (PyObject *)&RelayType) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
