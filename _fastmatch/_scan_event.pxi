# Included by _scan.pyx: the event view (ScannedEvent), the scanner that makes
# it, and the splice that renders its output.

cdef extern from "string.h":
    const void* memchr(const void* s, int c, size_t n) nogil
    const void* memmem(const void* hay, size_t hay_len, const void* needle, size_t needle_len) nogil

cdef enum:
    CACHE_MAX = 4096
    NO_MEMBER = -1
    REQUEST_RANK = 2
    REQUEST_RESPONSE_RANK = 3


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


# It holds only strings, bytes and tuples of them: no cycles, so the collector need not track it.
@cython.no_gc
cdef class ScannedEvent:
    """One event read by ``Scanner.scan``: what the policy needs, and the spans of its members.

    Its attributes are the reference ``Event``'s (pipeline/events.py) but
    ``fields``; ``render`` gives the output bytes at a level.
    """

    cdef readonly str level, stage, verb, audit_id, source, envelope, synthesized
    cdef readonly tuple request
    cdef readonly bytes raw
    cdef bytes _api_version
    cdef Members _m
    cdef int _i_level, _i_req, _i_resp, _i_ann, _i_kind, _i_api
    cdef readonly bint annotations_simple

    @property
    def annotations_raw(self):
        """The annotations member's value as bytes, None when there is none."""
        if self._i_ann == NO_MEMBER:
            return None
        return self.raw[self._m.start[self._i_ann]:self._m.end[self._i_ann]]

    cdef bytes _span(self, int c):
        return PyBytes_FromStringAndSize(PyBytes_AS_STRING(self.raw) + self._m.start[c], self._m.end[c] - self._m.start[c])

    cdef object _cut(self, int c, object cut):
        """The body member ``c`` without managed fields (None: unchanged). The common shape (an
        object with ``metadata``) is cut here; lists, Tables and odd keys by the reference's ``cut``."""
        cdef const uchar* p = <const uchar*>PyBytes_AS_STRING(self.raw)
        cdef Py_ssize_t s = self._m.start[c]
        cdef object done
        if memmem(p + s, <size_t>(self._m.end[c] - s), b"managedFields", 13) == NULL:
            return None
        done = _cut_metadata(p, s, self._m.end[c])
        if done is not _LEAVE_TO_REFERENCE:
            return done
        return cut(self._span(c))

    cdef bytes _annotations(self, bytes extra):
        """The annotations object with ``extra`` (encoded members) added: only when ``annotations_simple``."""
        cdef const uchar* p = <const uchar*>PyBytes_AS_STRING(self.raw)
        cdef Members inner
        cdef Py_ssize_t size, pos = 0
        cdef int c
        cdef bytes out
        cdef char* w
        if self._i_ann == NO_MEMBER or p[self._m.start[self._i_ann]] == 110:  # absent or null
            return b"{" + extra + b"}"
        _members(p, self._m.start[self._i_ann], self._m.end[self._i_ann], &inner, 2)
        size = 2 + PyBytes_GET_SIZE(extra)
        for c in range(inner.count):
            size += (inner.colon[c] - inner.key[c]) + 1 + (inner.end[c] - inner.start[c]) + 1
        out = PyBytes_FromStringAndSize(NULL, size)
        w = PyBytes_AS_STRING(out)
        w[0] = b"{"
        pos = 1
        for c in range(inner.count):
            memcpy(w + pos, p + inner.key[c], inner.colon[c] - inner.key[c])
            pos += inner.colon[c] - inner.key[c]
            w[pos] = b":"
            pos += 1
            memcpy(w + pos, p + inner.start[c], inner.end[c] - inner.start[c])
            pos += inner.end[c] - inner.start[c]
            w[pos] = b","
            pos += 1
        memcpy(w + pos, PyBytes_AS_STRING(extra), PyBytes_GET_SIZE(extra))
        pos += PyBytes_GET_SIZE(extra)
        w[pos] = b"}"
        return out

    def render(self, int rank, bint omit_managed_fields, extra, merged, cut):
        """The output event at ``rank``, spliced from the input's spans.

        ``extra``: the enrichment annotations as encoded members (``"k":"v",…``),
        or None when enrichment is off. ``merged``: the whole annotations value
        the caller computed, for events that are not ``annotations_simple``
        (None: keep them as they are). ``cut(body) -> bytes`` removes managed
        fields from a body; it is called only when ``omit_managed_fields``.
        """
        cdef const uchar* p = <const uchar*>PyBytes_AS_STRING(self.raw)
        cdef Members* m = &self._m
        cdef int c, slot
        cdef Py_ssize_t size = 2, pos
        cdef bint describe = self._i_kind == NO_MEMBER or self._i_api == NO_MEMBER
        cdef bint append_annotations = extra is not None and self._i_ann == NO_MEMBER
        cdef bytes kind_value, api_value, out, piece
        cdef bytes level_value = None
        cdef bytes annotations_value = None
        cdef object request_value = None
        cdef object response_value = None
        cdef char* w
        cdef bint first = True

        if LEVEL_NAMES[rank] != self.level:
            level_value = LEVEL_RAW[rank]
        if omit_managed_fields:
            if self._i_req != NO_MEMBER and rank >= REQUEST_RANK and self.verb != "patch":
                request_value = self._cut(self._i_req, cut)
            if self._i_resp != NO_MEMBER and rank >= REQUEST_RESPONSE_RANK:
                response_value = self._cut(self._i_resp, cut)
        if extra is not None:
            if self.annotations_simple:
                annotations_value = self._annotations(extra)
            elif merged is not None:
                annotations_value = merged

        # Pass one: the size. Pass two: the copy.
        if describe:
            kind_value = self._span(self._i_kind) if self._i_kind != NO_MEMBER else KIND_EVENT
            api_value = self._span(self._i_api) if self._i_api != NO_MEMBER else self._api_version
            size += 7 + PyBytes_GET_SIZE(kind_value) + 14 + PyBytes_GET_SIZE(api_value)
            first = False
        for c in range(m.count):
            if describe and (c == self._i_kind or c == self._i_api):
                continue
            if (c == self._i_req and rank < REQUEST_RANK) or (c == self._i_resp and rank < REQUEST_RESPONSE_RANK):
                continue
            piece = self._replacement(c, level_value, request_value, response_value, annotations_value)
            size += (0 if first else 1) + (m.colon[c] - m.key[c]) + 1
            size += PyBytes_GET_SIZE(piece) if piece is not None else m.end[c] - m.start[c]
            first = False
        if append_annotations:
            annotations_value = self._annotations(extra)
            size += (0 if first else 1) + 14 + PyBytes_GET_SIZE(annotations_value)

        out = PyBytes_FromStringAndSize(NULL, size)
        w = PyBytes_AS_STRING(out)
        w[0] = b"{"
        pos = 1
        first = True
        if describe:
            pos = _put(w, pos, <const uchar*>b'"kind":', 7)
            pos = _put(w, pos, <const uchar*>PyBytes_AS_STRING(kind_value), PyBytes_GET_SIZE(kind_value))
            pos = _put(w, pos, <const uchar*>b',"apiVersion":', 14)
            pos = _put(w, pos, <const uchar*>PyBytes_AS_STRING(api_value), PyBytes_GET_SIZE(api_value))
            first = False
        for c in range(m.count):
            if describe and (c == self._i_kind or c == self._i_api):
                continue
            if (c == self._i_req and rank < REQUEST_RANK) or (c == self._i_resp and rank < REQUEST_RESPONSE_RANK):
                continue
            if not first:
                w[pos] = b","
                pos += 1
            first = False
            pos = _put(w, pos, p + m.key[c], m.colon[c] - m.key[c])
            w[pos] = b":"
            pos += 1
            piece = self._replacement(c, level_value, request_value, response_value, annotations_value)
            if piece is not None:
                pos = _put(w, pos, <const uchar*>PyBytes_AS_STRING(piece), PyBytes_GET_SIZE(piece))
            else:
                pos = _put(w, pos, p + m.start[c], m.end[c] - m.start[c])
        if append_annotations:
            if not first:
                w[pos] = b","
                pos += 1
            pos = _put(w, pos, <const uchar*>b'"annotations":', 14)
            pos = _put(w, pos, <const uchar*>PyBytes_AS_STRING(annotations_value), PyBytes_GET_SIZE(annotations_value))
        w[pos] = b"}"
        if pos + 1 != size:  # the two passes disagree: a bug here, never the input's fault
            raise AssertionError(f"splice wrote {pos + 1} bytes of {size}")
        return out

    cdef inline bytes _replacement(self, int c, bytes level_value, object request_value, object response_value, bytes annotations_value):
        if c == self._i_level:
            return level_value
        if c == self._i_req:
            return request_value
        if c == self._i_resp:
            return response_value
        if c == self._i_ann:
            return annotations_value
        return None


cdef inline Py_ssize_t _put(char* w, Py_ssize_t pos, const uchar* src, Py_ssize_t length) noexcept:
    memcpy(w + pos, src, length)
    return pos + length


cdef class Scanner:
    """Reads events with one pass over their bytes; see the module comment.

    ``annotation_prefix``: annotations already under it are left to the
    reference path (which replaces them in place). ``decode_str`` decodes a
    JSON string with escapes (the reference's decoder: the same answers).
    """

    cdef bytes _prefix
    cdef object _decode_str
    cdef dict _users

    def __init__(self, str annotation_prefix, decode_str):
        self._prefix = annotation_prefix.encode("utf-8")
        self._decode_str = decode_str
        self._users = {}

    cdef str _str(self, const uchar* p, Py_ssize_t start, Py_ssize_t end):
        """The JSON string at [start, end) (quotes included) as str."""
        if _has_backslash(p, start, end):
            return self._decode_str(PyBytes_FromStringAndSize(<const char*>p + start, end - start))
        return PyUnicode_DecodeASCII(<const char*>p + start + 1, end - start - 2, NULL)

    cdef object _user(self, const uchar* p, Py_ssize_t start, Py_ssize_t end):
        """(username or None, groups) of the user object, None if not handled here."""
        cdef bytes key = PyBytes_FromStringAndSize(<const char*>p + start, end - start)
        cdef object hit = self._users.get(key)
        cdef Members m
        cdef int c
        cdef str username = ""
        cdef list groups = []
        cdef Py_ssize_t i, j
        cdef bint escaped
        if hit is not None:
            return hit
        if p[start] != 123 or _members(p, start, end, &m, 2) < 0:
            return None
        for c in range(m.count):
            if _key_is(p, &m, c, "username", 8):
                if not _is_string(p, &m, c):
                    return None
                username = self._str(p, m.start[c], m.end[c])
            elif _key_is(p, &m, c, "groups", 6):
                i = m.start[c]
                if p[i] == 110:  # null
                    continue
                if p[i] != 91:
                    return None
                i = _skip_ws(p, i + 1, end)
                if p[i] == 93:
                    continue
                while True:
                    if p[i] != 34:
                        return None
                    escaped = False
                    j = _string_end(p, i, end, &escaped)
                    groups.append(self._str(p, i, j))
                    i = _skip_ws(p, j, end)
                    if p[i] == 93:
                        break
                    i = _skip_ws(p, i + 1, end)  # the comma: the JSON is valid already
        hit = (username if (username or groups) else None, tuple(groups))
        if len(self._users) >= CACHE_MAX:
            self._users.clear()  # bounded: a stream of unique users must not grow memory
        self._users[key] = hit
        return hit

    def scan_many(self, values, origins, Py_ssize_t max_bytes):
        """``scan`` over a batch of records, as ``RecordDecoder.decode`` would try each at depth 0:
        a list with a ScannedEvent or None (take the reference path) per record."""
        cdef Py_ssize_t i, count = len(values)
        cdef list out = [None] * count
        cdef object value
        for i in range(count):
            value = values[i]
            # No isascii() first: the scan refuses any byte that is not ASCII.
            if type(value) is bytes and 0 < PyBytes_GET_SIZE(value) <= max_bytes:
                out[i] = self._scan(value, origins[i], _V1_JSON, "")
        return out

    def scan(self, bytes data, str source, bytes api_version, str envelope=""):
        """The event in ``data`` (an ASCII JSON object), or None: then take the reference path."""
        return self._scan(data, source, api_version, envelope)

    cdef ScannedEvent _scan(self, bytes data, str source, bytes api_version, str envelope):
        cdef const uchar* p = <const uchar*>PyBytes_AS_STRING(data)
        cdef Py_ssize_t n = PyBytes_GET_SIZE(data)
        cdef ScannedEvent ev = ScannedEvent.__new__(ScannedEvent)
        cdef Members* m = &ev._m
        cdef Members ref
        cdef Py_ssize_t end, q, s, e
        cdef int c, length, rank = -1, stage = -1
        cdef int i_verb = NO_MEMBER, i_user = NO_MEMBER, i_id = NO_MEMBER, i_uri = NO_MEMBER, i_stage = NO_MEMBER
        cdef int i_ref = NO_MEMBER
        cdef object user
        cdef str url_path, ns = "", group = "", resource = "", sub = "", name = ""
        cdef bytes raw_value
        cdef const uchar* found
        if n == 0 or n >= 0x7FFFFFFF or p[0] != 123:
            return None
        end = _members(p, 0, n, m, 1)
        if end < 0 or _skip_ws(p, end, n) != n:
            return None
        ev._i_level = ev._i_req = ev._i_resp = ev._i_ann = ev._i_kind = ev._i_api = NO_MEMBER
        for c in range(m.count):
            length = m.colon[c] - m.key[c] - 2
            if length == 4:
                if _key_is(p, m, c, "verb", 4):
                    i_verb = c
                elif _key_is(p, m, c, "user", 4):
                    i_user = c
                elif _key_is(p, m, c, "kind", 4):
                    ev._i_kind = c
            elif length == 5:
                if _key_is(p, m, c, "level", 5):
                    ev._i_level = c
                elif _key_is(p, m, c, "stage", 5):
                    i_stage = c
            elif length == 7 and _key_is(p, m, c, "auditID", 7):
                i_id = c
            elif length == 8 and _key_is(p, m, c, "log_type", 8):
                return None  # an OpenShift record: the reference reads its envelope
            elif length == 9 and _key_is(p, m, c, "objectRef", 9):
                i_ref = c
            elif length == 10:
                if _key_is(p, m, c, "requestURI", 10):
                    i_uri = c
                elif _key_is(p, m, c, "apiVersion", 10):
                    ev._i_api = c
            elif length == 11 and _key_is(p, m, c, "annotations", 11):
                ev._i_ann = c
            elif length == 13 and _key_is(p, m, c, "requestObject", 13):
                ev._i_req = c
            elif length == 14 and _key_is(p, m, c, "responseObject", 14):
                ev._i_resp = c
        if ev._i_level < 0 or i_stage < 0 or i_verb < 0 or i_user < 0 or i_id < 0 or i_uri < 0:
            return None
        # Level and stage: one of the names, written plainly.
        for rank in range(4):
            raw_value = LEVEL_RAW[rank]
            if m.end[ev._i_level] - m.start[ev._i_level] == PyBytes_GET_SIZE(raw_value) and memcmp(
                p + m.start[ev._i_level], PyBytes_AS_STRING(raw_value), PyBytes_GET_SIZE(raw_value)
            ) == 0:
                break
        else:
            return None
        s, e = m.start[i_stage], m.end[i_stage]
        for stage in range(4):
            raw_value = STAGE_RAW[stage]
            if e - s == PyBytes_GET_SIZE(raw_value) and memcmp(p + s, PyBytes_AS_STRING(raw_value), e - s) == 0:
                break
        else:
            return None
        if not (_is_string(p, m, i_verb) and _is_string(p, m, i_id) and _is_string(p, m, i_uri)):
            return None
        user = self._user(p, m.start[i_user], m.end[i_user])
        if user is None:
            return None
        if i_ref != NO_MEMBER and p[m.start[i_ref]] != 110:
            if p[m.start[i_ref]] != 123:
                return None
            _members(p, m.start[i_ref], m.end[i_ref], &ref, 2)
            for c in range(ref.count):
                if _key_is(p, &ref, c, "namespace", 9):
                    if not _is_string(p, &ref, c):
                        return None
                    ns = self._str(p, ref.start[c], ref.end[c])
                elif _key_is(p, &ref, c, "apiGroup", 8):
                    if not _is_string(p, &ref, c):
                        return None
                    group = self._str(p, ref.start[c], ref.end[c])
                elif _key_is(p, &ref, c, "resource", 8):
                    if not _is_string(p, &ref, c):
                        return None
                    resource = self._str(p, ref.start[c], ref.end[c])
                elif _key_is(p, &ref, c, "subresource", 11):
                    if not _is_string(p, &ref, c):
                        return None
                    sub = self._str(p, ref.start[c], ref.end[c])
                elif _key_is(p, &ref, c, "name", 4):
                    if not _is_string(p, &ref, c):
                        return None
                    name = self._str(p, ref.start[c], ref.end[c])
        else:
            i_ref = NO_MEMBER
        # The request path: the URI up to its first "?".
        s, e = m.start[i_uri], m.end[i_uri]
        found = <const uchar*>memchr(p + s + 1, 63, <size_t>(e - s - 2))  # ?
        q = found - p if found != NULL else e - 1
        if _has_backslash(p, s, q):
            url_path = self._str(p, s, e).partition("?")[0]
        else:
            url_path = PyUnicode_DecodeASCII(<const char*>p + s + 1, q - s - 1, NULL)
        ev.annotations_simple = self._simple_annotations(p, m, ev._i_ann)
        ev.level = LEVEL_NAMES[rank]
        ev.stage = STAGE_NAMES[stage]
        ev.verb = self._str(p, m.start[i_verb], m.end[i_verb])
        ev.audit_id = self._str(p, m.start[i_id], m.end[i_id])
        ev.request = (user[0], user[1], ev.verb, ns, group, resource, sub, name, url_path, i_ref != NO_MEMBER, ev.level)
        ev.raw = data
        ev.source = source
        ev.envelope = envelope
        ev.synthesized = ""
        ev._api_version = api_version
        return ev

    cdef bint _simple_annotations(self, const uchar* p, Members* m, int i_ann):
        """Annotations that the splice can extend as the reference would: absent, null, or an
        object of plain strings with no key under the prefix."""
        cdef Members inner
        cdef int c
        cdef Py_ssize_t s
        cdef Py_ssize_t plen = PyBytes_GET_SIZE(self._prefix)
        if i_ann == NO_MEMBER or p[m.start[i_ann]] == 110:
            return True
        if p[m.start[i_ann]] != 123 or _members(p, m.start[i_ann], m.end[i_ann], &inner, 2) < 0:
            return False
        for c in range(inner.count):
            s = inner.start[c]
            if p[s] != 34 or not _encodes_as_is(p, s, inner.end[c]):
                return False
            if inner.colon[c] - inner.key[c] - 2 >= plen and memcmp(
                p + inner.key[c] + 1, PyBytes_AS_STRING(self._prefix), plen
            ) == 0:
                return False
        return True
