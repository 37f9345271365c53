# Included by _scan.pyx: the scanner. One pass over a record finds its members,
# checks it is strict JSON and reads what the policy needs; anything it is not sure
# of it declines (None), and the record goes the reference way.

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
        return PyUnicode_DecodeUTF8(<const char*>p + start + 1, end - start - 2, NULL)

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
            # No isascii() or UTF-8 check first: the scan checks UTF-8 as it goes.
            if type(value) is bytes and 0 < PyBytes_GET_SIZE(value) <= max_bytes:
                out[i] = self._scan(value, origins[i], _V1_JSON, "")
        return out

    def scan(self, bytes data, str source, bytes api_version, str envelope=""):
        """The event in ``data`` (a JSON object in UTF-8), or None: then take the reference path."""
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
            url_path = PyUnicode_DecodeUTF8(<const char*>p + s + 1, q - s - 1, NULL)
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
