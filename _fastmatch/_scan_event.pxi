# Included by _scan.pyx: the event view a scan makes, and the splice that renders
# its output at a level.

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
        """The body member ``c`` without managed fields (None: unchanged): cut here, or by the
        reference's ``cut`` when the splice declines (an escaped or duplicate key, deep lists)."""
        cdef const uchar* p = <const uchar*>PyBytes_AS_STRING(self.raw)
        cdef Py_ssize_t s = self._m.start[c]
        cdef object done
        if memmem(p + s, <size_t>(self._m.end[c] - s), b"managedFields", 13) == NULL:
            return None
        done = _cut_body(p, s, self._m.end[c], 0)
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
