/* The compiled part of exporters: otlp_attributes, described where it is defined. A module of its own because the
 * SDK components at the top of exporters import nothing from tracing (tests/test_architecture.py). Optional: without
 * a C compiler, exporters._otlp writes every attribute in Python; the tests hold the two to the same bytes.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

/* otlp_attributes(tag, attributes) answers what exporters._otlp._python_attributes(tag, attributes) answers for an
 * exact dict whose keys are exact str and whose values are exact str, bool, int within int64, float or None: the
 * repeated OTLP KeyValue fields (field tag `tag`, KeyValue{key=1, value=2: AnyValue}), in the dict's order; None for
 * any other dict (a key or value of another type, an int beyond int64, a text UTF-8 cannot encode), which the Python
 * version then encodes (and logs what it cannot).
 *
 * Why compiled: encoding a span's attributes in Python costs about two thirds of exporting it (about 500,000
 * instructions a request of the serving workload, in the export thread, where it holds the GIL the request threads
 * need); this writes each field once into one bytes object. */
static int
varint_size(unsigned long long n)
{
    int size = 1;
    while (n > 127) {
        n >>= 7;
        size++;
    }
    return size;
}

static char *
put_varint(char *p, unsigned long long n)
{
    while (n > 127) {
        *p++ = (char)((n & 0x7F) | 0x80);
        n >>= 7;
    }
    *p++ = (char)n;
    return p;
}

/* What a value of the attributes takes: its kind (0 none, 1 text, 2 bool, 3 int, 4 float), its UTF-8 text, its
 * integer and its AnyValue's size. 0, or -1 when the dict is not one this encodes (no error set). */
typedef struct {
    int kind;
    const char *text;
    Py_ssize_t text_size, key_size, value_size; /* value_size: the AnyValue message */
    const char *key;
    unsigned long long number;
    double real;
} Field;

static int
read_field(PyObject *key, PyObject *value, Field *field)
{
    field->key = PyUnicode_AsUTF8AndSize(key, &field->key_size);
    if (field->key == NULL) {
        PyErr_Clear();
        return -1;
    }
    if (value == Py_None) {
        field->kind = 0;
        field->value_size = 0;
    }
    else if (PyUnicode_CheckExact(value)) {
        field->kind = 1;
        field->text = PyUnicode_AsUTF8AndSize(value, &field->text_size);
        if (field->text == NULL) {
            PyErr_Clear();
            return -1;
        }
        field->value_size = 1 + varint_size((unsigned long long)field->text_size) + field->text_size;
    }
    else if (value == Py_True || value == Py_False) {
        field->kind = 2;
        field->value_size = 2;
    }
    else if (PyLong_CheckExact(value)) {
        int overflow;
        long long number = PyLong_AsLongLongAndOverflow(value, &overflow);
        if (overflow || (number == -1 && PyErr_Occurred())) {
            PyErr_Clear();
            return -1;
        }
        field->kind = 3;
        field->number = (unsigned long long)number; /* value & UINT64: two's complement */
        field->value_size = 1 + varint_size(field->number);
    }
    else if (PyFloat_CheckExact(value)) {
        field->kind = 4;
        field->real = PyFloat_AS_DOUBLE(value);
        field->value_size = 9;
    }
    else {
        return -1;
    }
    return 0;
}

/* The KeyValue message of a field (its key, when not empty, then its value), without the tag and length. */
static Py_ssize_t
key_value_size(const Field *field)
{
    Py_ssize_t size = 1 + varint_size((unsigned long long)field->value_size) + field->value_size;
    if (field->key_size)
        size += 1 + varint_size((unsigned long long)field->key_size) + field->key_size;
    return size;
}

static PyObject *
otlp_attributes(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    PyObject *attributes, *key, *value, *result;
    const char *tag;
    Py_ssize_t tag_size, total = 0, pos = 0, size;
    Field field;
    char *p;

    if (nargs != 2 || !PyBytes_Check(args[0])) {
        PyErr_SetString(PyExc_TypeError, "otlp_attributes(tag: bytes, attributes: dict)");
        return NULL;
    }
    tag = PyBytes_AS_STRING(args[0]);
    tag_size = PyBytes_GET_SIZE(args[0]);
    attributes = args[1];
    if (!PyDict_CheckExact(attributes))
        Py_RETURN_NONE;
    /* the sizes first: no Python code runs between the two passes (exact types only), so the dict cannot change */
    while (PyDict_Next(attributes, &pos, &key, &value)) {
        if (!PyUnicode_CheckExact(key) || read_field(key, value, &field) < 0)
            Py_RETURN_NONE;
        size = key_value_size(&field);
        total += tag_size + varint_size((unsigned long long)size) + size;
    }
    result = PyBytes_FromStringAndSize(NULL, total);
    if (result == NULL)
        return NULL;
    p = PyBytes_AS_STRING(result);
    pos = 0;
    while (PyDict_Next(attributes, &pos, &key, &value)) {
        read_field(key, value, &field); /* succeeded above, on the same objects */
        memcpy(p, tag, (size_t)tag_size);
        p = put_varint(p + tag_size, (unsigned long long)key_value_size(&field));
        if (field.key_size) {
            *p++ = 0x0a;
            p = put_varint(p, (unsigned long long)field.key_size);
            memcpy(p, field.key, (size_t)field.key_size);
            p += field.key_size;
        }
        *p++ = 0x12;
        p = put_varint(p, (unsigned long long)field.value_size);
        switch (field.kind) {
        case 1:
            *p++ = 0x0a;
            p = put_varint(p, (unsigned long long)field.text_size);
            memcpy(p, field.text, (size_t)field.text_size);
            p += field.text_size;
            break;
        case 2:
            *p++ = 0x10;
            *p++ = value == Py_True ? 1 : 0;
            break;
        case 3:
            *p++ = 0x18;
            p = put_varint(p, field.number);
            break;
        case 4:
            *p++ = 0x21;
#if PY_VERSION_HEX >= 0x030B0000
            PyFloat_Pack8(field.real, p, 1);
#else
            _PyFloat_Pack8(field.real, (unsigned char *)p, 1);
#endif
            p += 8;
            break;
        default:
            break;
        }
    }
    assert(p == PyBytes_AS_STRING(result) + total);
    return result;
}

static PyMethodDef methods[] = {
    {"otlp_attributes", (PyCFunction)(void (*)(void))otlp_attributes, METH_FASTCALL,
     "otlp_attributes(tag, attributes) -> the OTLP KeyValue fields of a dict of plain attribute values, else None."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "exporters._otlp_speedups",
    "The compiled part of exporters: a span's attributes as OTLP protobuf fields (optional).", -1,
    methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC
PyInit__otlp_speedups(void)
{
    return PyModule_Create(&module);
}
