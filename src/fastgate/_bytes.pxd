# Borrow the bytes of any bytes-like object: a zero-cost path for exact bytes,
# the buffer protocol (bytearray, memoryview, array...) for the rest.
from cpython.buffer cimport PyObject_GetBuffer, PyBuffer_Release, PyBUF_SIMPLE
from cpython.bytes cimport PyBytes_CheckExact, PyBytes_AS_STRING, PyBytes_GET_SIZE


cdef struct ByteView:
    const unsigned char* data
    Py_ssize_t size
    bint owns
    Py_buffer view


cdef inline int borrow(object obj, ByteView* v) except -1:
    if PyBytes_CheckExact(obj):
        v.data = <const unsigned char*>PyBytes_AS_STRING(obj)
        v.size = PyBytes_GET_SIZE(obj)
        v.owns = False
        return 0
    PyObject_GetBuffer(obj, &v.view, PyBUF_SIMPLE)
    v.data = <const unsigned char*>v.view.buf
    v.size = v.view.len
    v.owns = True
    return 0


cdef inline void release(ByteView* v) noexcept:
    if v.owns:
        PyBuffer_Release(&v.view)
        v.owns = False
