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


cdef bytes _compact(const uchar* p, const Members* m, int skip, const int* replace, tuple replacements):
    """The object of ``m`` as msgspec encodes a dict[str, Raw]: members compact, values
    verbatim; member ``skip`` left out (-1: none), and member ``replace[k]``'s value
    replaced by ``replacements[k]`` where that is not None."""
    cdef Py_ssize_t size = 2, pos = 1
    cdef int c, k
    cdef bint first = True
    cdef bytes out, piece
    cdef char* w
    cdef int count = len(replacements)
    for c in range(m.count):
        if c == skip:
            continue
        size += (0 if first else 1) + (m.colon[c] - m.key[c]) + 1
        piece = _replacement_for(c, replace, replacements, count)
        size += PyBytes_GET_SIZE(piece) if piece is not None else m.end[c] - m.start[c]
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
        piece = _replacement_for(c, replace, replacements, count)
        if piece is not None:
            pos = _put(w, pos, <const uchar*>PyBytes_AS_STRING(piece), PyBytes_GET_SIZE(piece))
        else:
            pos = _put(w, pos, p + m.start[c], m.end[c] - m.start[c])
    w[pos] = b"}"
    return out


cdef inline bytes _replacement_for(int c, const int* replace, tuple replacements, int count):
    cdef int k
    for k in range(count):
        if replace[k] == c:
            return replacements[k]
    return None


cdef enum:
    CUT_DEPTH = 8  # lists of lists of ...: deeper than any API response, left to the reference


cdef object _cut_body(const uchar* p, Py_ssize_t start, Py_ssize_t end, int depth):
    """levels._cut over the spans of a body: the body without managed fields (bytes), None
    when it has none (then it stays as it is), or _LEAVE_TO_REFERENCE (a key the splice
    cannot copy, lists nested past CUT_DEPTH).

    As the reference: the body's own ``metadata``, each object in ``items`` (recursively),
    and the ``object`` of each row of a Table; what changed is re-encoded compactly, one
    level at a time, and nothing else is touched.
    """
    cdef Members body, meta
    cdef int c, i_mf = NO_MEMBER
    cdef int[3] at = [NO_MEMBER, NO_MEMBER, NO_MEMBER]  # metadata, items, rows
    cdef bint table = False
    cdef object new_meta = None, new_items = None, new_rows = None
    if p[start] != 123:
        return None  # not an object: kept as it is
    if depth > CUT_DEPTH or _members(p, start, end, &body, 2) < 0:
        return _LEAVE_TO_REFERENCE
    for c in range(body.count):
        if _key_is(p, &body, c, "metadata", 8):
            at[0] = c
        elif _key_is(p, &body, c, "items", 5):
            at[1] = c
        elif _key_is(p, &body, c, "rows", 4):
            at[2] = c
        elif _key_is(p, &body, c, "kind", 4) and body.end[c] - body.start[c] == 7 and memcmp(
            p + body.start[c], b'"Table"', 7
        ) == 0:
            table = True
    if at[0] != NO_MEMBER and p[body.start[at[0]]] == 123:
        if _members(p, body.start[at[0]], body.end[at[0]], &meta, 3) < 0:
            return _LEAVE_TO_REFERENCE
        for c in range(meta.count):
            if _key_is(p, &meta, c, "managedFields", 13):
                i_mf = c
        if i_mf != NO_MEMBER:
            new_meta = _compact(p, &meta, i_mf, at, ())
    if at[1] != NO_MEMBER:
        new_items = _cut_elements(p, body.start[at[1]], body.end[at[1]], False, depth)
        if new_items is _LEAVE_TO_REFERENCE:
            return new_items
    if table and at[2] != NO_MEMBER:
        new_rows = _cut_elements(p, body.start[at[2]], body.end[at[2]], True, depth)
        if new_rows is _LEAVE_TO_REFERENCE:
            return new_rows
    if new_meta is None and new_items is None and new_rows is None:
        return None
    return _compact(p, &body, NO_MEMBER, at, (new_meta, new_items, new_rows))


cdef object _cut_elements(const uchar* p, Py_ssize_t start, Py_ssize_t end, bint rows, int depth):
    """The array at [start, end) with each element cut (a Table row: its ``object``), as
    ``[e1,e2,…]``; None when no element changed or it is not an array."""
    cdef Py_ssize_t i, e_end
    cdef list pieces = []
    cdef bint changed = False
    cdef object new
    if p[start] != 91:
        return None
    i = _skip_ws(p, start + 1, end)
    if p[i] == 93:
        return None
    while True:
        e_end = _value_end(p, i, end, 2)  # valid already: this only finds the end
        if e_end < 0:
            return _LEAVE_TO_REFERENCE  # cannot happen after the scan; never guess
        new = _cut_row(p, i, e_end, depth) if rows else _cut_body(p, i, e_end, depth + 1)
        if new is _LEAVE_TO_REFERENCE:
            return new
        if new is None:
            new = PyBytes_FromStringAndSize(<const char*>p + i, e_end - i)
        else:
            changed = True
        pieces.append(new)
        i = _skip_ws(p, e_end, end)
        if p[i] != 44:  # the closing bracket
            break
        i = _skip_ws(p, i + 1, end)
    if not changed:
        return None
    return b"[" + b",".join(pieces) + b"]"


cdef object _cut_row(const uchar* p, Py_ssize_t start, Py_ssize_t end, int depth):
    """A Table row with its ``object`` cut; None when unchanged."""
    cdef Members row
    cdef int c
    cdef int[1] at = [NO_MEMBER]
    cdef object cut
    if p[start] != 123:
        return None
    if _members(p, start, end, &row, 3) < 0:
        return _LEAVE_TO_REFERENCE
    for c in range(row.count):
        if _key_is(p, &row, c, "object", 6):
            at[0] = c
    if at[0] == NO_MEMBER:
        return None
    cut = _cut_body(p, row.start[at[0]], row.end[at[0]], depth + 1)
    if cut is None or cut is _LEAVE_TO_REFERENCE:
        return cut
    return _compact(p, &row, NO_MEMBER, at, (cut,))
