# Included by _scan.pyx: what the splice is made of. Copying spans of the input
# into an output the way msgspec would encode the decoded members (compact, values
# verbatim), and the managed-fields cut of a body.

cdef extern from "string.h":
    const void* memchr(const void* s, int c, size_t n) nogil
    const void* memmem(const void* hay, size_t hay_len, const void* needle, size_t needle_len) nogil

cdef enum:
    CACHE_MAX = 4096
    NO_MEMBER = -1
    REQUEST_RANK = 2
    REQUEST_RESPONSE_RANK = 3


cdef inline Py_ssize_t _put(char* w, Py_ssize_t pos, const uchar* src, Py_ssize_t length) noexcept:
    memcpy(w + pos, src, length)
    return pos + length


cdef inline bint _has_backslash(const uchar* p, Py_ssize_t start, Py_ssize_t end) noexcept:
    return memchr(p + start, 92, <size_t>(end - start)) != NULL


cdef bint _encodes_as_is(const uchar* p, Py_ssize_t start, Py_ssize_t end) noexcept:
    """Whether the JSON string at [start, end) is what msgspec writes for its value: its only
    escapes are the short ones msgspec uses too (RBAC reasons quote names as \\")."""
    cdef const uchar* at = <const uchar*>memchr(p + start, 92, <size_t>(end - start))
    cdef uchar c
    while at != NULL:
        c = at[1]
        if not (c == 34 or c == 92 or c == 98 or c == 102 or c == 110 or c == 114 or c == 116):
            return False  # \/ and \uXXXX come out differently
        at = <const uchar*>memchr(at + 2, 92, <size_t>(end - (at + 2 - p)))
    return True


cdef object _LEAVE_TO_REFERENCE = object()
cdef bytes _V1_JSON = b'"audit.k8s.io/v1"'


cdef bytes _compact(const uchar* p, const Members* m, int skip, int replace, bytes replacement):
    """The object of ``m`` as msgspec encodes a dict[str, Raw]: members compact, values
    verbatim; member ``skip`` left out, member ``replace``'s value replaced (-1: none)."""
    cdef Py_ssize_t size = 2, pos = 1
    cdef int c
    cdef bint first = True
    cdef bytes out
    cdef char* w
    for c in range(m.count):
        if c == skip:
            continue
        size += (0 if first else 1) + (m.colon[c] - m.key[c]) + 1
        size += PyBytes_GET_SIZE(replacement) if c == replace else m.end[c] - m.start[c]
        first = False
    out = PyBytes_FromStringAndSize(NULL, size)
    w = PyBytes_AS_STRING(out)
    w[0] = b"{"
    first = True
    for c in range(m.count):
        if c == skip:
            continue
        if not first:
            w[pos] = b","
            pos += 1
        first = False
        pos = _put(w, pos, p + m.key[c], m.colon[c] - m.key[c])
        w[pos] = b":"
        pos += 1
        if c == replace:
            pos = _put(w, pos, <const uchar*>PyBytes_AS_STRING(replacement), PyBytes_GET_SIZE(replacement))
        else:
            pos = _put(w, pos, p + m.start[c], m.end[c] - m.start[c])
    w[pos] = b"}"
    return out


cdef object _cut_metadata(const uchar* p, Py_ssize_t start, Py_ssize_t end):
    """levels._cut for a body whose managed fields can only be in its own ``metadata``:
    the body without them (bytes), None when it has none (then it stays as it is), or
    _LEAVE_TO_REFERENCE (a list's items, a Table's rows, a key the splice cannot copy)."""
    cdef Members body, meta
    cdef int c, i_meta = NO_MEMBER, i_mf = NO_MEMBER
    if p[start] != 123:
        return None  # not an object: kept as it is
    if _members(p, start, end, &body, 2) < 0:
        return _LEAVE_TO_REFERENCE
    for c in range(body.count):
        if _key_is(p, &body, c, "items", 5):
            return _LEAVE_TO_REFERENCE
        if _key_is(p, &body, c, "kind", 4) and body.end[c] - body.start[c] == 7 and memcmp(p + body.start[c], b'"Table"', 7) == 0:
            return _LEAVE_TO_REFERENCE
        if _key_is(p, &body, c, "metadata", 8):
            i_meta = c
    if i_meta == NO_MEMBER or p[body.start[i_meta]] != 123:
        return None
    if _members(p, body.start[i_meta], body.end[i_meta], &meta, 3) < 0:
        return _LEAVE_TO_REFERENCE
    for c in range(meta.count):
        if _key_is(p, &meta, c, "managedFields", 13):
            i_mf = c
    if i_mf == NO_MEMBER:
        return None
    return _compact(p, &body, NO_MEMBER, i_meta, _compact(p, &meta, i_mf, NO_MEMBER, None))
