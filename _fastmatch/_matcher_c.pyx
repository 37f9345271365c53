# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
#
# Compiled twin of ``_matcher_py.PyMatcher``: kube-apiserver's audit-policy
# checker (pkg/audit/policy/checker.go), answered from indexes.
#
# Semantics (identical to the Python twin, which is the specification; see
# also shared/docs/k8s-audit-policy-semantics.md sections 3-4). Rule i matches
# a request when ALL of:
#   users       empty, or user is not None and user in users
#   user_groups empty, or user is not None and some request group is listed
#   verbs       empty, or verb listed            (exact; "*" is literal)
#   levels      empty, or level listed           (routing selectors only)
#   scope, by the rule's kind:
#     R (namespaces or resources non-empty; nonResourceURLs then ignored):
#       resource requests only; namespaces empty or namespace listed; and
#       resources empty, or some GroupResources entry with group == api_group
#       or "*" has an empty resources list (resourceNames then ignored), or a
#       pattern that passes the name check (resourceNames empty or name
#       listed) and is == combined ("res" or "res/sub"), or "*", or "*/sub"
#       with a non-empty subresource, or "res/*" (no subresource needed).
#     N (only nonResourceURLs): non-resource requests only; some URL is "*",
#       == path, or ends in "*" and path starts with it minus ALL trailing "*"
#       (plain string prefix).
#     A (neither): matches every request.
# first() is the lowest matching i (-1 if none); all() is the bit mask.
#
# How. Each condition above is a field, whose pass set is its "any" rules
# (those leaving it empty) plus the rules listing the request's value. The
# scope is two fields for a resource request,
#   namespace:  A + R rules without namespaces + R rules listing the namespace
#   resources:  A + R rules without resources + the GroupResources hits
# and one for a non-resource request,
#   URL:        A + N rules with a "*" URL + N rules with an exact or prefix hit
# (A + R restricted by both = A + the R rules passing both; N and R rules
# never reach the wrong kind of request). The match set is the intersection
# of the pass sets of the fields that some rule constrains.
#
# The parts live in five included files, split out only to keep each file
# readable:
#   _matcher_map.pxi    hash tables: str -> set of rules (the key's hash and
#                       the set in a 24-byte slot, its characters in an
#                       arena), and 128-bit integer keys -> set of rules
#   _matcher_sets.pxi   sets of rules: dense rows of W = ceil(n/64) words for
#                       the fixed sets and for values named by >= W/4 rules
#                       (with the field's "any" rules merged in), sparse int32
#                       lists for the rest; the intersection; the layout
#   _matcher_index.pxi  the GroupResources index (symbols, integer keys)
#   _matcher_urls.pxi   the URL prefix table (a rolling hash over the path)
#   _matcher_build.pxi  the compile: rules read into the tables, sets laid out
#
# Per request: one table lookup per identity field and request group (fields
# no rule constrains are skipped); for a resource request one for the
# namespace and, only if some rule passing those fields has resources (a
# pass over the words that stops at the first), one for the API group and,
# when an entry for that group could use them, one each for resource,
# subresource and name, with 1-4 integer probes; for a non-resource request,
# only if some rule passing the identity fields lists a URL but no "*", one
# for the exact URL and one probe per distinct URL-prefix length. A hit adds a dense
# row (a pointer) or ORs a sparse list into a scratch row. Then one
# vectorised pass over the words intersects the fields (at most 6, two rows
# each); first() stops in the first 4-word block holding a match. A field
# hit only by sparse lists narrows the words scanned to those they cover.
# So: O(lookups + sparse entries hit + fields x words scanned).
# Compilation is linear in the size of the rules: one table insert and one
# posting per (rule, value) pair, then O(W) per dense row and O(1) per
# sparse entry; no Python dict or int grows with the policy. Memory is
# O(n + size of the rules): a dense row needs max(1, W // 4) postings, so
# dense rows take fewer than 8 words per posting; sparse lists 4 bytes per
# posting; 10 fixed rows of W words; table slots.
#
# Inputs are builtins (str, tuple, list, bool, None), as for the Python twin.
# Scratch buffers live in the object, so all steps that may run Python code
# (tuple(), truthiness, iterating an unusual groups object) happen before
# they are touched. Lookups of str run no Python code. Keys that are not str
# go through a dict, which may run their __hash__ or __eq__; should that code
# use this matcher again, it gets a RuntimeError (which, raised inside a
# lookup, makes the key absent).

import gc

from ._matcher_py import normalize

from cpython.bytes cimport PyBytes_FromStringAndSize
from cpython.long cimport PyLong_FromUnsignedLongLong
from cpython.object cimport PyObject
from cpython.tuple cimport PyTuple_GET_ITEM
from libc.stdlib cimport calloc, free


ctypedef struct Req:
    # A request's fields, borrowed (see _eval).
    PyObject* user           # NULL: the nil user (None)
    PyObject* groups         # a tuple or a list
    PyObject* verb
    PyObject* level
    PyObject* namespace      # these five: resource requests only
    PyObject* api_group
    PyObject* resource
    PyObject* sub
    PyObject* name
    PyObject* path           # non-resource requests only
    bint is_res, has_sub


include "_matcher_map.pxi"
include "_matcher_sets.pxi"
include "_matcher_index.pxi"
include "_matcher_urls.pxi"
include "_matcher_build.pxi"


cdef extern from *:
    """
    /* int from little-endian bytes without a Python-level call (all()). */
    #if PY_VERSION_HEX >= 0x030D0000
    #define AP_HAVE_LONG_FROM_LE 1
    #define AP_LONG_FROM_LE(buf, n) \
        PyLong_FromUnsignedNativeBytes((buf), (n), Py_ASNATIVEBYTES_LITTLE_ENDIAN)
    #elif !defined(PYPY_VERSION)
    #define AP_HAVE_LONG_FROM_LE 1
    #define AP_LONG_FROM_LE(buf, n) \
        _PyLong_FromByteArray((const unsigned char *)(buf), (n), 1, 0)
    #else
    #define AP_HAVE_LONG_FROM_LE 0
    #define AP_LONG_FROM_LE(buf, n) (PyErr_SetString(PyExc_SystemError, "unused"), (PyObject *)NULL)
    #endif
    #define AP_LITTLE_ENDIAN PY_LITTLE_ENDIAN
    """
    bint HAVE_LONG_FROM_LE "AP_HAVE_LONG_FROM_LE"
    bint LITTLE_ENDIAN "AP_LITTLE_ENDIAN"
    object _long_from_le "AP_LONG_FROM_LE"(const unsigned char* buf, size_t n)


cdef object _from_bytes = int.from_bytes


cdef class CMatcher:
    """Answer which rules a request matches; same API and answers as PyMatcher.

    Parameters
    ----------
    rules
        The rules, in policy order (shapes: see ``_matcher_py``).
    """

    cdef tuple _rules
    cdef tuple _ints             # 0 .. n-1: first() returns these rather than new ints
    cdef Py_ssize_t _n, _W
    cdef uint64_t* _table
    cdef int32_t* _pool
    cdef uint64_t* _scratch     # acc, zero and the extra rows (see Sets): one allocation
    cdef Sets _s
    cdef bint _busy
    # Fixed rows: word offsets into _table, -1 for an empty set. A field whose
    # "any" row holds every rule is skipped (_full).
    cdef Py_ssize_t _fixed[F_COUNT]
    cdef bint _full[F_COUNT]
    # value -> set of rules; None when no rule lists a value for the field.
    cdef _StrMap _users, _groups, _verbs, _levels, _ns, _url_exact
    cdef _ResourceIndex _res     # None when no rule lists GroupResources
    cdef _PrefixTable _prefixes  # URLs ending in "*" (None: none)

    def __cinit__(self, *args, **kwargs):
        self._table = NULL
        self._pool = NULL
        self._scratch = NULL

    def __dealloc__(self):
        self._release()

    cdef void _release(self) noexcept:
        free(self._table)
        free(self._pool)
        free(self._scratch)
        self._table = NULL
        self._pool = NULL
        self._scratch = NULL
        self._n = 0

    def __init__(self, rules):
        if self._busy:
            raise RuntimeError("a CMatcher cannot be rebuilt while it evaluates a request")
        # Normalising and compiling make many objects but no reference cycles;
        # the collections they would set off only rescan the whole heap.
        gc_enabled = gc.isenabled()
        gc.disable()
        try:
            # Normalised exactly as PyMatcher does (lists accepted, copied to tuples).
            self._compile(normalize(rules))
        finally:
            if gc_enabled:
                gc.enable()

    cdef _compile(self, tuple norm):
        cdef _Build b = _Build(norm)
        cdef Py_ssize_t f, W = b.W
        # ---- allocate the rest, then swap in (all or nothing) ----
        cdef _PrefixTable prefixes = _PrefixTable(b.stems)
        cdef tuple ints = tuple(range(b.n))
        cdef uint64_t* scratch = <uint64_t*>calloc(<size_t>((2 + AP_FIELDS) * W), sizeof(uint64_t))
        if scratch == NULL:
            raise MemoryError()

        self._release()
        self._table, b.layout.table = b.layout.table, NULL
        self._pool, b.layout.pool = b.layout.pool, NULL
        self._scratch = scratch
        self._s.acc = scratch
        self._s.zero = scratch + W
        for f in range(AP_FIELDS):
            self._s.extra[f] = scratch + (2 + f) * W
            self._s.a[f] = self._s.b[f] = self._s.zero
        self._s.nf = 0
        self._s.W = W
        self._s.table = self._table
        self._s.pool = self._pool
        self._prefixes = prefixes if prefixes.max_len else None
        for f in range(F_COUNT):
            self._fixed[f] = b.fixed[f]
            self._full[f] = b.full[f]
        self._users, self._groups = _unless_empty(b.users), _unless_empty(b.groups)
        self._verbs, self._levels = _unless_empty(b.verbs), _unless_empty(b.levels)
        self._ns, self._url_exact = _unless_empty(b.ns), _unless_empty(b.url_exact)
        self._res = b.res if b.res.keys.used else None
        self._rules = norm
        self._ints = ints
        self._W = W
        self._n = b.n

    # ----------------------------------------------------------------------

    cdef inline const uint64_t* _row(self, int fixed) noexcept:
        return NULL if self._fixed[fixed] < 0 else self._table + self._fixed[fixed]

    cdef Py_ssize_t _eval(self, object request, bint want_all) except -2:
        """Lowest matching rule index, or -1; the match set is left in the scratch."""
        cdef tuple req
        cdef object groups, path, sub
        cdef Req q
        cdef Py_ssize_t found

        # ---- read the request (may run Python code; no scratch yet) ----
        if type(request) is tuple:
            req = <tuple>request
        else:
            req = tuple(request)
        if len(req) < 11:
            raise IndexError(f"a request has 11 fields, got {len(req)}")
        # Borrowed from req (and `groups`), which outlive the evaluation.
        q.user = NULL if req[0] is None else <PyObject*>req[0]
        groups = req[1]
        if self._groups is not None and q.user != NULL:
            if type(groups) is not tuple and type(groups) is not list:
                groups = tuple(groups)
        q.groups = <PyObject*>groups
        q.verb = <PyObject*>req[2]
        q.level = <PyObject*>req[10]
        q.is_res = req[9]
        if q.is_res:
            q.namespace = <PyObject*>req[3]
            q.api_group = <PyObject*>req[4]
            q.resource = <PyObject*>req[5]
            sub = req[6]
            q.sub = <PyObject*>sub
            q.name = <PyObject*>req[7]
            q.has_sub = sub
        else:
            path = req[8]
            q.path = <PyObject*>path
            if self._prefixes is not None:
                if not isinstance(path, str):
                    raise TypeError(f"request path must be str, not {type(path).__name__}")
                PyUnicode_READY(path)
        if self._busy:
            raise RuntimeError("a CMatcher was used again from inside one of its own evaluations")

        self._busy = True
        found = self._match(&q, want_all)
        self._busy = False
        return found

    cdef Py_ssize_t _match(self, const Req* q, bint want_all) noexcept:
        cdef Sets* s = &self._s
        cdef Py_ssize_t w = -1
        s.lo = 0
        s.hi = self._W
        s.nf = 0
        if self._gather(q):
            if s.nf == 0:
                # No field to test: every rule matches.
                s.a[0] = self._table + self._fixed[F_ALL]
                s.b[0] = s.zero
                s.nf = 1
            if s.lo < s.hi:
                w = ap_intersect(s.acc, s.a, s.b, s.nf, s.lo, s.hi, want_all)
        _clean(s)
        if w < 0:
            return -1
        return w * 64 + ap_ctz64(s.acc[w])

    cdef bint _needed(self, int lookups) noexcept:
        """Whether some rule passing the fields gathered so far is one that the
        lookups of a field could let through (fixed set `lookups`). As in the
        checker, the resources and the URL are only looked at then; the test is
        a pass over the words that stops at the first such rule."""
        cdef Sets* s = &self._s
        if self._fixed[lookups] < 0:
            return False
        return s.nf == 0 or s.lo < s.hi and ap_meets(s.a, s.b, s.nf, s.lo, s.hi,
                                                     self._table + self._fixed[lookups])

    cdef bint _gather(self, const Req* q) noexcept:
        """Look the request up, field by field; False when a field passes no rule."""
        cdef Sets* s = &self._s
        cdef Py_ssize_t i
        if not self._full[F_USERS]:
            _field_start(s)
            if q.user != NULL and self._users is not None:
                _add_hit(s, self._users, q.user)
            if not _field_end(s, self._row(F_USERS)):
                return False
        if not self._full[F_GROUPS]:
            _field_start(s)
            if q.user != NULL and self._groups is not None:
                # A tuple or a list (see _eval); items borrowed from it.
                for i in range(Py_SIZE(q.groups)):
                    _add_hit(s, self._groups, _sequence_item(q.groups, i))
            if not _field_end(s, self._row(F_GROUPS)):
                return False
        if not self._full[F_VERBS]:
            _field_start(s)
            if self._verbs is not None:
                _add_hit(s, self._verbs, q.verb)
            if not _field_end(s, self._row(F_VERBS)):
                return False
        if not self._full[F_LEVELS]:
            _field_start(s)
            if self._levels is not None:
                _add_hit(s, self._levels, q.level)
            if not _field_end(s, self._row(F_LEVELS)):
                return False
        if q.is_res:
            if not self._full[F_NS]:
                _field_start(s)
                if self._ns is not None:
                    _add_hit(s, self._ns, q.namespace)
                if not _field_end(s, self._row(F_NS)):
                    return False
            if not self._full[F_RES]:
                _field_start(s)
                if self._res is not None and self._needed(F_RES_LOOKUPS):
                    self._res.hits(s, q)
                if not _field_end(s, self._row(F_RES)):
                    return False
        elif not self._full[F_URL]:
            _field_start(s)
            if self._needed(F_URL_LOOKUPS):
                if self._url_exact is not None:
                    _add_hit(s, self._url_exact, q.path)
                if self._prefixes is not None:
                    self._prefixes.hits(s, <str>q.path)
            if not _field_end(s, self._row(F_URL)):
                return False
        return True

    cdef object _mask(self):
        """all(): the match set _eval left, as an int."""
        cdef Py_ssize_t w, b, lo = self._s.lo, hi = self._s.hi
        cdef uint64_t x
        cdef uint64_t* acc = self._s.acc
        cdef unsigned char* out
        # Words outside lo..hi hold no rule but may hold stale bits.
        while hi > lo and acc[hi - 1] == 0:
            hi -= 1
        if hi <= lo:
            return 0
        if hi == 1:
            return PyLong_FromUnsignedLongLong(acc[0])
        memset(acc, 0, <size_t>lo * sizeof(uint64_t))
        if not LITTLE_ENDIAN:
            # Byte-swap in place: the scratch is rebuilt by the next _eval.
            out = <unsigned char*>acc
            for w in range(hi):
                x = acc[w]
                for b in range(8):
                    out[w * 8 + b] = <unsigned char>(x >> (8 * b))
        if HAVE_LONG_FROM_LE:
            return _long_from_le(<unsigned char*>acc, <size_t>(hi * 8))
        return _from_bytes(PyBytes_FromStringAndSize(<char*>acc, hi * 8), "little")

    # ---------------------------------------------------------------- API

    def __len__(self):
        return self._n

    def __reduce__(self):
        return (CMatcher, (self._rules,))

    def __repr__(self):
        return f"<CMatcher: {self._n} rules>"

    cdef inline object _index(self, Py_ssize_t i):
        # The int objects of the rule indexes are made once (see _compile).
        return -1 if i < 0 else <object>PyTuple_GET_ITEM(self._ints, i)

    def first(self, request):
        """Index of the first rule the request matches, or -1."""
        if self._n == 0:
            return -1
        return self._index(self._eval(request, False))

    def all(self, request):
        """Bit mask of every rule the request matches (bit i is rule i)."""
        if self._n == 0 or self._eval(request, True) < 0:
            return 0
        return self._mask()

    def first_many(self, requests):
        """``first`` for a whole batch in one call."""
        cdef list out = []
        for request in requests:
            out.append(-1 if self._n == 0 else self._index(self._eval(request, False)))
        return out

    def all_many(self, requests):
        """``all`` for a whole batch in one call."""
        cdef list out = []
        for request in requests:
            if self._n == 0 or self._eval(request, True) < 0:
                out.append(0)
            else:
                out.append(self._mask())
        return out
