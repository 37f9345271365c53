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
# How: every condition above is turned, once, into sets of rules. A set of n
# rules is a bitset of W = ceil(n/64) uint64 words; all the sets live as rows
# of one malloc'ed table. Each field has a dict value -> row of the rules that
# list that value, plus an "any" row of the rules that leave the field empty,
# so "passes the field" = any | row[value]. A request is then the intersection
# of one pass set per field, and first() is its lowest set bit.
#
# Per request: the dict lookups (one per identity field and request group,
# then, only if some rule still needs them, ~1-6 for the GroupResources test
# or one for an exact URL), one hash probe per distinct URL-prefix length
# (C rolling hash, no substring allocation), and two passes over W words.
# So O(fields + request groups + min(len(path), prefix lengths)) lookups plus
# O(W * lookup hits) word operations. Nothing walks the rules: a 1,000-rule
# policy does the same lookups as a 10-rule one, on 16-word rows instead of
# 1-word rows. Compilation is O(total size of the rules * W).
#
# Inputs are builtins (str, tuple, list, bool, None), as for the Python twin.
# Scratch buffers live in the object, so all steps that may run Python code
# (tuple(), truthiness, iterating an unusual groups object) happen before
# they are touched; afterwards only dict lookups on str keys run, which do not
# re-enter the interpreter.

from ._matcher_py import normalize

from cpython.bytes cimport PyBytes_FromStringAndSize
from cpython.long cimport PyLong_FromUnsignedLongLong
from cpython.object cimport PyObject
from libc.stdint cimport uint64_t
from libc.stdlib cimport calloc, free, malloc
from libc.string cimport memset


cdef extern from "Python.h":
    # Borrowed reference; NULL when absent, or with an error set when the key
    # cannot be hashed (see _dict_get).
    PyObject* _dict_get_we "PyDict_GetItemWithError"(object d, object key)
    PyObject* PyErr_Occurred()
    void PyErr_Clear()
    # Code-point access for the URL prefix hash (no substrings are built).
    int PyUnicode_KIND(object s)
    void* PyUnicode_DATA(object s)
    Py_UCS4 PyUnicode_READ(int kind, void* data, Py_ssize_t i)
    Py_ssize_t PyUnicode_GET_LENGTH(object s)
    # 1 when s[start:end] starts with sub (direction -1); -1 with an error set.
    Py_ssize_t PyUnicode_Tailmatch(object s, PyObject* sub, Py_ssize_t start,
                                   Py_ssize_t end, int direction) except -1


cdef inline PyObject* _dict_get(dict d, object key) noexcept:
    # Borrowed reference or NULL, never an error: an unhashable key is simply
    # absent, as ``x in tuple_of_str`` is False for it in the Python twin.
    # (PyDict_GetItem does the same but saves and restores the error state on
    # every call, which costs more than the lookup of a cached-hash str.)
    cdef PyObject* p = _dict_get_we(d, key)
    if p == NULL and PyErr_Occurred() != NULL:
        PyErr_Clear()
    return p


cdef extern from *:
    """
    #if defined(__GNUC__) || defined(__clang__)
    static inline int ap_ctz64(unsigned long long x) { return __builtin_ctzll(x); }
    #elif defined(_MSC_VER) && defined(_M_X64)
    #include <intrin.h>
    static __inline int ap_ctz64(unsigned long long x) {
        unsigned long i; _BitScanForward64(&i, x); return (int)i;
    }
    #else
    static int ap_ctz64(unsigned long long x) {
        int n = 0; while (!(x & 1ULL)) { x >>= 1; ++n; } return n;
    }
    #endif
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
    /* Every str is "ready" since 3.12, where the call is deprecated. */
    #if PY_VERSION_HEX >= 0x030C0000
    #define AP_UNICODE_READY(s) 0
    #else
    #define AP_UNICODE_READY(s) PyUnicode_READY(s)
    #endif
    /* FNV-1a, 64 bit. */
    #define AP_FNV_BASIS 0xcbf29ce484222325ULL
    #define AP_FNV_PRIME 0x100000001b3ULL
    """
    # Index of the lowest set bit; x must be non-zero.
    int ap_ctz64(unsigned long long x) nogil
    bint HAVE_LONG_FROM_LE "AP_HAVE_LONG_FROM_LE"
    bint LITTLE_ENDIAN "AP_LITTLE_ENDIAN"
    object _long_from_le "AP_LONG_FROM_LE"(const unsigned char* buf, size_t n)
    const uint64_t FNV_BASIS "AP_FNV_BASIS"
    const uint64_t FNV_PRIME "AP_FNV_PRIME"
    int PyUnicode_READY "AP_UNICODE_READY"(object s) except -1


cdef object _from_bytes = int.from_bytes

# Rows ORed into one pass set are kept as a short list of pointers and folded
# into a scratch row only when the list fills up (a request with very many
# groups, a policy with very many URL-prefix lengths).
cdef enum:
    HCAP = 24


ctypedef struct PrefixSlot:
    uint64_t h          # FNV-1a of the stem's code points
    Py_ssize_t length   # stem length (code points)
    PyObject* stem      # NULL: empty slot. Owned by CMatcher._stems.
    Py_ssize_t row      # word offset of the rules with this stem


cdef inline uint64_t _fnv_step(uint64_t h, Py_UCS4 c) noexcept nogil:
    return (h ^ <uint64_t>c) * FNV_PRIME


cdef inline Py_ssize_t _slot_of(uint64_t h, Py_ssize_t mask) noexcept nogil:
    # FNV's low bits are weak for short keys; fold the high half in.
    return <Py_ssize_t>((h ^ (h >> 29) ^ (h >> 47)) & <uint64_t>mask)


# --------------------------------------------------------------------------
# Collections of rows to OR together.

ctypedef struct Hits:
    uint64_t* rows[HCAP]
    int n
    uint64_t* fold      # W words of scratch used when rows[] is full


cdef inline void _push(Hits* hs, uint64_t* row, Py_ssize_t W) noexcept nogil:
    cdef int k
    cdef Py_ssize_t w
    if hs.n == HCAP:
        if hs.rows[0] != hs.fold:
            memset(hs.fold, 0, <size_t>W * sizeof(uint64_t))
            k = 0
        else:
            k = 1
        while k < HCAP:
            for w in range(W):
                hs.fold[w] |= hs.rows[k][w]
            k += 1
        hs.rows[0] = hs.fold
        hs.n = 1
    hs.rows[hs.n] = row
    hs.n += 1


cdef class _Row:
    """A dict value: the word offset of a row in the table.

    An object with a C field rather than a Python int, so reading it after a
    lookup is a load, not a PyLong conversion.
    """
    cdef Py_ssize_t off


cdef inline void _push_hit(Hits* hs, uint64_t* T, dict index, object key,
                           Py_ssize_t W) noexcept:
    # Push index[key], if the key is present.
    cdef PyObject* p = _dict_get(index, key)
    if p != NULL:
        _push(hs, T + (<_Row>p).off, W)


cdef inline uint64_t _or_hits(const Hits* hs, Py_ssize_t w) noexcept nogil:
    cdef uint64_t x = 0
    cdef int k
    for k in range(hs.n):
        x |= hs.rows[k][w]
    return x


# --------------------------------------------------------------------------
# GroupResources index. For one group key (an API group, or "*"), the rules
# whose entries for that group would match, by how they match. Empty dicts are
# stored as None so a lookup that cannot hit costs one pointer compare.

cdef class _GroupIndex:
    cdef Py_ssize_t any_row   # entries with an empty resources list (-1: none)
    cdef Py_ssize_t star_row  # pattern "*" (-1: none)
    cdef dict exact           # pattern -> row; == combined when there is no subresource
    cdef dict split           # pattern "a/b" -> {a: {b: row}}: == resource + "/" + sub
    cdef dict sub             # "*/x": x -> row, compared with a non-empty subresource
    cdef dict prefix          # "x/*": x -> row, compared with resource


cdef class _GroupTable:
    cdef dict groups          # group -> _GroupIndex (None when empty)
    cdef _GroupIndex star     # groups["*"], kept apart: it applies to every request


cdef inline void _index_hits(_GroupIndex gi, Hits* hs, uint64_t* T, Py_ssize_t W,
                             object resource, object sub, bint has_sub) noexcept:
    cdef PyObject* p
    if gi.any_row >= 0:
        _push(hs, T + gi.any_row, W)
    if gi.star_row >= 0:
        _push(hs, T + gi.star_row, W)
    if not has_sub:
        # combined is the resource itself.
        if gi.exact is not None:
            _push_hit(hs, T, gi.exact, resource, W)
    else:
        # combined = resource + "/" + sub, matched without building it: the
        # pattern was split at each "/" when compiled.
        if gi.split is not None:
            p = _dict_get(gi.split, resource)
            if p != NULL:
                _push_hit(hs, T, <dict>p, sub, W)
        if gi.sub is not None:
            _push_hit(hs, T, gi.sub, sub, W)
    if gi.prefix is not None:
        _push_hit(hs, T, gi.prefix, resource, W)


cdef inline void _table_hits(_GroupTable t, Hits* hs, uint64_t* T, Py_ssize_t W,
                             object api_group, object resource, object sub,
                             bint has_sub) noexcept:
    # Group keys {api_group, "*"}: one lookup plus the pre-fetched "*" index.
    cdef PyObject* p = NULL
    if t.groups is not None:
        p = _dict_get(t.groups, api_group)
        if p != NULL:
            _index_hits(<_GroupIndex>p, hs, T, W, resource, sub, has_sub)
    # When api_group is literally "*", p is the star index already.
    if t.star is not None and <PyObject*>t.star != p:
        _index_hits(t.star, hs, T, W, resource, sub, has_sub)


# --------------------------------------------------------------------------
# Compilation helpers (run once per policy; Python-level code using Python
# ints as bit masks, laid out into the C table at the end).

cdef class _Rows:
    """Distinct row masks, each given the word offset of its row in the table."""
    cdef list masks
    cdef dict offsets
    cdef dict row_objs
    cdef Py_ssize_t W

    def __cinit__(self, Py_ssize_t W):
        self.masks = []
        self.offsets = {}
        self.row_objs = {}
        self.W = W

    cdef Py_ssize_t add(self, object mask) except -1:
        off = self.offsets.get(mask)
        if off is None:
            off = len(self.masks) * self.W
            self.offsets[mask] = off
            self.masks.append(mask)
        return off

    cdef _Row row(self, object mask):
        cdef Py_ssize_t off = self.add(mask)
        cdef _Row r = self.row_objs.get(off)
        if r is None:
            r = _Row()
            r.off = off
            self.row_objs[off] = r
        return r

    cdef dict add_all(self, dict masks):
        """value -> mask  becomes  value -> _Row (None when empty)."""
        if not masks:
            return None
        return {k: self.row(m) for k, m in masks.items()}


cdef inline void _set(dict d, object key, object bit):
    d[key] = d.get(key, 0) | bit


cdef dict _new_builder():
    return {"any": 0, "star": 0, "exact": {}, "split": {}, "sub": {}, "prefix": {}}


cdef dict _builder(dict by_group, object group):
    b = by_group.get(group)
    if b is None:
        b = by_group[group] = _new_builder()
    return b


cdef _add_pattern(dict b, str pattern, object bit):
    cdef Py_ssize_t k
    if pattern == "*":
        # Also covers combined == "*": no exact entry needed.
        b["star"] |= bit
        return
    _set(b["exact"], pattern, bit)
    # pattern == resource + "/" + sub for every split at a "/" with a
    # non-empty tail (with a subresource, sub is never empty).
    k = pattern.find("/")
    while k >= 0:
        if k + 1 < len(pattern):
            subs = b["split"].setdefault(pattern[:k], {})
            _set(subs, pattern[k + 1:], bit)
        k = pattern.find("/", k + 1)
    # "*/" alone would need an empty subresource, which never passes the
    # "request has a subresource" test.
    if pattern.startswith("*/") and len(pattern) > 2:
        _set(b["sub"], pattern[2:], bit)
    if pattern.endswith("/*"):
        _set(b["prefix"], pattern[:len(pattern) - 2], bit)


cdef _GroupTable _freeze_groups(dict builders, _Rows rows):
    """group -> builder dict  becomes  a _GroupTable of _GroupIndex objects."""
    cdef _GroupTable t = _GroupTable()
    cdef _GroupIndex gi
    frozen = {}
    for group, b in builders.items():
        gi = _GroupIndex()
        gi.any_row = rows.add(b["any"]) if b["any"] else -1
        gi.star_row = rows.add(b["star"]) if b["star"] else -1
        gi.exact = rows.add_all(b["exact"])
        gi.split = {res: rows.add_all(subs) for res, subs in b["split"].items()} or None
        gi.sub = rows.add_all(b["sub"])
        gi.prefix = rows.add_all(b["prefix"])
        frozen[group] = gi
    t.groups = frozen or None
    t.star = frozen.get("*")
    return t


cdef uint64_t _fnv(str s, Py_ssize_t length) except? 0:
    cdef uint64_t h = FNV_BASIS
    cdef Py_ssize_t i
    PyUnicode_READY(s)
    cdef int kind = PyUnicode_KIND(s)
    cdef void* data = PyUnicode_DATA(s)
    for i in range(length):
        h = _fnv_step(h, PyUnicode_READ(kind, data, i))
    return h


cdef class CMatcher:
    """Answer which rules a request matches; same API and answers as PyMatcher.

    Parameters
    ----------
    rules
        The rules, in policy order (shapes: see ``_matcher_py``).
    """

    cdef tuple _rules
    cdef Py_ssize_t _n, _W
    cdef uint64_t* _table
    cdef uint64_t* _scratch     # acc + the two fold rows: one allocation
    cdef uint64_t* _acc         # the match set being built
    cdef Hits _gh               # rows to OR for the groups field
    cdef Hits _sh               # rows to OR for the scope (resources or URLs)
    cdef unsigned char* _bytes  # all(): little-endian image of _acc
    # Fixed rows (word offsets into _table).
    cdef Py_ssize_t _zero, _all_rules
    cdef Py_ssize_t _users_any, _groups_any, _verbs_any, _levels_any
    cdef Py_ssize_t _a_row, _nr_base, _n_lookup, _ns_any, _res_any
    # value -> row offset; None when no rule constrains the field.
    cdef dict _users, _groups, _verbs, _levels, _ns, _url_exact
    cdef _GroupTable _res_plain  # entries without resourceNames (or with no patterns)
    cdef dict _res_named         # name -> _GroupTable of entries listing that name
    # URL stems (trailing "*" stripped, non-empty): open-addressing hash table
    # keyed by (FNV of the stem, length), probed while hashing the path.
    cdef PrefixSlot* _slots
    cdef Py_ssize_t _slot_mask
    cdef unsigned char* _is_len  # _is_len[L]: some stem has length L
    cdef Py_ssize_t _max_len     # 0: no stems
    cdef list _stems             # owns the stem strings the slots point to
    cdef bint _has_r

    def __cinit__(self, *args, **kwargs):
        self._table = NULL
        self._scratch = NULL
        self._bytes = NULL
        self._slots = NULL
        self._is_len = NULL

    def __dealloc__(self):
        self._release()

    cdef void _release(self) noexcept:
        free(self._table)
        free(self._scratch)
        free(self._bytes)
        free(self._slots)
        free(self._is_len)
        self._table = NULL
        self._scratch = NULL
        self._bytes = NULL
        self._slots = NULL
        self._is_len = NULL
        self._n = 0

    def __init__(self, rules):
        # Normalised exactly as PyMatcher does (lists accepted, copied to tuples).
        self._compile(normalize(rules))

    cdef _compile(self, tuple norm):
        cdef Py_ssize_t n = len(norm)
        cdef Py_ssize_t W = (n + 63) // 64 if n else 1
        cdef Py_ssize_t i, w, r, k, nslots, s
        cdef _Rows rows = _Rows(W)
        cdef uint64_t h

        users_any = groups_any = verbs_any = levels_any = 0
        a_mask = nr_any = n_lookup = ns_any = res_any = 0
        users = {}
        groups = {}
        verbs = {}
        levels = {}
        ns = {}
        url_exact = {}
        url_prefix = {}
        plain = {}   # group -> builder
        named = {}   # name -> {group -> builder}
        has_r = False

        for i in range(n):
            rule_users, rule_groups, rule_verbs, rule_ns, rule_res, rule_urls, rule_levels = norm[i]
            # A Python int: with i typed, a bare `1 << i` would be a C shift.
            bit = (<object>1) << i

            # Identity fields: "pass" set = the rules with an empty list, plus
            # index[value] for the rules listing the request's value.
            if rule_users:
                for v in rule_users:
                    _set(users, v, bit)
            else:
                users_any |= bit
            if rule_groups:
                for v in rule_groups:
                    _set(groups, v, bit)
            else:
                groups_any |= bit
            if rule_verbs:
                for v in rule_verbs:
                    _set(verbs, v, bit)
            else:
                verbs_any |= bit
            if rule_levels:
                for v in rule_levels:
                    _set(levels, v, bit)
            else:
                levels_any |= bit

            if rule_ns or rule_res:
                # R: the resource match decides; nonResourceURLs are ignored.
                has_r = True
                if rule_ns:
                    for v in rule_ns:
                        _set(ns, v, bit)
                else:
                    ns_any |= bit
                if not rule_res:
                    res_any |= bit
                for group, patterns, names in rule_res:
                    if not patterns:
                        # Matches the whole group; resourceNames are ignored.
                        _builder(plain, group)["any"] |= bit
                        continue
                    if names:
                        # The name check applies to every pattern of the entry:
                        # index the patterns under each listed name.
                        targets = [
                            _builder(named.setdefault(name, {}), group)
                            for name in dict.fromkeys(names)
                        ]
                    else:
                        targets = [_builder(plain, group)]
                    for pattern in patterns:
                        for b in targets:
                            _add_pattern(b, pattern, bit)
            elif rule_urls:
                wildcard = False
                for url in rule_urls:
                    if url.endswith("*"):
                        stem = url.rstrip("*")
                        if stem:
                            _set(url_prefix, stem, bit)
                        else:
                            # "*", "**", ...: every path.
                            wildcard = True
                    else:
                        # (A trailing-"*" URL equal to the path also has the
                        # path start with its stem: no exact entry needed.)
                        _set(url_exact, url, bit)
                if wildcard:
                    nr_any |= bit
                else:
                    n_lookup |= bit
            else:
                a_mask |= bit

        # ---- lay the masks out as rows ----
        self._zero = rows.add(0)
        self._all_rules = rows.add((<object>1 << n) - 1)
        self._users_any = rows.add(users_any)
        self._groups_any = rows.add(groups_any)
        self._verbs_any = rows.add(verbs_any)
        self._levels_any = rows.add(levels_any)
        self._a_row = rows.add(a_mask)
        self._nr_base = rows.add(a_mask | nr_any)
        self._n_lookup = rows.add(n_lookup)
        self._ns_any = rows.add(ns_any)
        self._res_any = rows.add(res_any)
        self._users = rows.add_all(users)
        self._groups = rows.add_all(groups)
        self._verbs = rows.add_all(verbs)
        self._levels = rows.add_all(levels)
        self._ns = rows.add_all(ns)
        self._url_exact = rows.add_all(url_exact)
        prefix_rows = rows.add_all(url_prefix) or {}
        self._res_plain = _freeze_groups(plain, rows)
        self._res_named = {name: _freeze_groups(bg, rows) for name, bg in named.items()} or None

        # ---- allocate everything, then swap in (all or nothing) ----
        stems = list(prefix_rows)
        max_len = max([len(stem) for stem in stems], default=0)
        nslots = 4
        while nslots < 2 * len(stems):
            nslots *= 2
        cdef Py_ssize_t nrows = len(rows.masks)
        cdef uint64_t* table = <uint64_t*>malloc(<size_t>(nrows * W) * sizeof(uint64_t))
        cdef uint64_t* scratch = <uint64_t*>malloc(<size_t>(3 * W) * sizeof(uint64_t))
        cdef unsigned char* byts = <unsigned char*>malloc(<size_t>(8 * W))
        cdef PrefixSlot* slots = <PrefixSlot*>calloc(<size_t>nslots, sizeof(PrefixSlot))
        cdef unsigned char* is_len = <unsigned char*>calloc(<size_t>(max_len + 1), 1)
        if table == NULL or scratch == NULL or byts == NULL or slots == NULL or is_len == NULL:
            free(table)
            free(scratch)
            free(byts)
            free(slots)
            free(is_len)
            raise MemoryError()
        for r in range(nrows):
            m = rows.masks[r]
            for w in range(W):
                table[r * W + w] = <uint64_t>((m >> (64 * w)) & 0xFFFFFFFFFFFFFFFF)
        for stem in stems:
            k = len(stem)
            h = _fnv(stem, k)
            s = _slot_of(h, nslots - 1)
            while slots[s].stem != NULL:
                s = (s + 1) & (nslots - 1)
            slots[s].h = h
            slots[s].length = k
            slots[s].stem = <PyObject*>stem
            slots[s].row = (<_Row>prefix_rows[stem]).off
            is_len[k] = 1

        self._release()
        self._table = table
        self._scratch = scratch
        self._acc = scratch
        self._gh.fold = scratch + W
        self._sh.fold = scratch + 2 * W
        self._bytes = byts
        self._slots = slots
        self._slot_mask = nslots - 1
        self._is_len = is_len
        self._max_len = max_len
        self._stems = stems
        self._has_r = has_r
        self._rules = norm
        self._W = W
        self._n = n

    # ----------------------------------------------------------------------

    cdef Py_ssize_t _eval(self, object request, bint want_all) except -2:
        """Lowest matching rule index, or -1.

        With want_all, self._acc holds the whole match set afterwards (when the
        answer is not -1); without, evaluation stops at the first word that has
        a match, and _acc is not complete.
        """
        cdef tuple req
        cdef object user, groups, g, namespace, api_group, resource, sub, name, path
        cdef bint is_res, has_sub = False
        cdef Py_ssize_t W = self._W, w, i, plen, end, s, first = -1
        cdef uint64_t* T = self._table
        cdef uint64_t* acc = self._acc
        cdef Hits* gh = &self._gh
        cdef Hits* sh = &self._sh
        cdef PyObject* p
        cdef uint64_t x, y, any_id = 0, cand = 0, h
        cdef int kind
        cdef void* data
        cdef PrefixSlot* slot

        # ---- phase 1: read the request (may run Python code; no scratch yet) ----
        if type(request) is tuple:
            req = <tuple>request
        else:
            req = tuple(request)
        if len(req) < 11:
            raise IndexError(f"a request has 11 fields, got {len(req)}")
        user = req[0]
        groups = req[1]
        if self._groups is not None and user is not None:
            if type(groups) is not tuple and type(groups) is not list:
                groups = tuple(groups)
        is_res = req[9]
        if is_res:
            namespace = req[3]
            api_group = req[4]
            resource = req[5]
            sub = req[6]
            name = req[7]
            has_sub = sub
        else:
            path = req[8]
            if self._max_len:
                if not isinstance(path, str):
                    raise TypeError(f"request path must be str, not {type(path).__name__}")
                PyUnicode_READY(path)

        # ---- phase 2: identity fields (dict lookups, then one pass) ----
        cdef uint64_t* u0 = T + self._users_any
        cdef uint64_t* u1 = T + self._zero
        cdef uint64_t* g0 = T + self._groups_any
        cdef uint64_t* v0 = T + self._verbs_any
        cdef uint64_t* v1 = T + self._zero
        cdef uint64_t* l0 = T + self._levels_any
        cdef uint64_t* l1 = T + self._zero
        # k0 | k1: the rules whose scope still needs lookups (R rules passing
        # the namespace test, or N rules with a non-"*" URL). Lookups are only
        # done when a rule that passed the identity fields is among them.
        cdef uint64_t* k0 = T + self._zero
        cdef uint64_t* k1 = T + self._zero

        if self._users is not None and user is not None:
            p = _dict_get(self._users, user)
            if p != NULL:
                u1 = T + (<_Row>p).off
        gh.n = 0
        if self._groups is not None and user is not None:
            if type(groups) is tuple:
                for g in <tuple>groups:
                    _push_hit(gh, T, self._groups, g, W)
            else:
                for g in <list>groups:
                    _push_hit(gh, T, self._groups, g, W)
        if self._verbs is not None:
            p = _dict_get(self._verbs, req[2])
            if p != NULL:
                v1 = T + (<_Row>p).off
        if self._levels is not None:
            p = _dict_get(self._levels, req[10])
            if p != NULL:
                l1 = T + (<_Row>p).off
        if is_res:
            if self._has_r:
                k0 = T + self._ns_any
                if self._ns is not None:
                    p = _dict_get(self._ns, namespace)
                    if p != NULL:
                        k1 = T + (<_Row>p).off
        else:
            k0 = T + self._n_lookup

        for w in range(W):
            x = (u0[w] | u1[w]) & (g0[w] | _or_hits(gh, w)) & (v0[w] | v1[w]) & (l0[w] | l1[w])
            acc[w] = x
            any_id |= x
            cand |= x & (k0[w] | k1[w])
        if not any_id:
            return -1

        # ---- phase 3: scope (lookups only if some candidate needs them) ----
        sh.n = 0
        cdef uint64_t* base
        cdef uint64_t* r0 = T + self._zero
        if is_res:
            base = T + self._a_row
            if cand:
                r0 = T + self._res_any
                _table_hits(self._res_plain, sh, T, W, api_group, resource, sub, has_sub)
                if self._res_named is not None:
                    p = _dict_get(self._res_named, name)
                    if p != NULL:
                        _table_hits(<_GroupTable>p, sh, T, W, api_group, resource, sub, has_sub)
        else:
            base = T + self._nr_base
            if cand:
                if self._url_exact is not None:
                    _push_hit(sh, T, self._url_exact, path, W)
                if self._max_len:
                    # FNV over the path's code points; at each stem length,
                    # probe for a stem of that length and hash, then confirm
                    # it with a real comparison. Stems are distinct, so at
                    # most one can match per length.
                    kind = PyUnicode_KIND(path)
                    data = PyUnicode_DATA(path)
                    plen = PyUnicode_GET_LENGTH(path)
                    end = plen if plen < self._max_len else self._max_len
                    h = FNV_BASIS
                    for i in range(end):
                        h = _fnv_step(h, PyUnicode_READ(kind, data, i))
                        if not self._is_len[i + 1]:
                            continue
                        s = _slot_of(h, self._slot_mask)
                        while True:
                            slot = &self._slots[s]
                            if slot.stem == NULL:
                                break
                            if slot.h == h and slot.length == i + 1:
                                if PyUnicode_Tailmatch(path, slot.stem, 0, i + 1, -1):
                                    _push(sh, T + slot.row, W)
                                    break
                            s = (s + 1) & self._slot_mask
                # Only the URL hits (N rules) are added: k = all rules, and
                # r0 stays empty (R rules never match a non-resource request).
                k0 = T + self._all_rules
                k1 = T + self._zero

        # acc = acc & (base | ((k0 | k1) & (r0 | hits)))
        #   resource:     base = A, k = namespace pass, r0 = empty-resources rules
        #   non-resource: base = A | "*"-URL rules, k = all, r0 = none
        for w in range(W):
            x = acc[w]
            y = base[w]
            if cand:
                y |= (k0[w] | k1[w]) & (r0[w] | _or_hits(sh, w))
            x &= y
            if x:
                if first < 0:
                    first = w * 64 + ap_ctz64(x)
                    if not want_all:
                        return first
            acc[w] = x
        return first

    cdef object _mask(self):
        cdef Py_ssize_t w, b, W = self._W
        cdef uint64_t x
        cdef const uint64_t* acc = self._acc
        cdef unsigned char* out = self._bytes
        if W == 1:
            return PyLong_FromUnsignedLongLong(acc[0])
        # Drop high zero words: the int is built from the significant ones only.
        while W > 1 and acc[W - 1] == 0:
            W -= 1
        if LITTLE_ENDIAN:
            # The words already are the little-endian image of the mask.
            out = <unsigned char*>acc
        else:
            for w in range(W):
                x = acc[w]
                for b in range(8):
                    out[w * 8 + b] = <unsigned char>(x >> (8 * b))
        if HAVE_LONG_FROM_LE:
            return _long_from_le(out, <size_t>(W * 8))
        return _from_bytes(PyBytes_FromStringAndSize(<char*>out, W * 8), "little")

    # ---------------------------------------------------------------- API

    def __len__(self):
        return self._n

    def __reduce__(self):
        return (CMatcher, (self._rules,))

    def __repr__(self):
        return f"<CMatcher: {self._n} rules>"

    def first(self, request):
        """Index of the first rule the request matches, or -1."""
        if self._n == 0:
            return -1
        return self._eval(request, False)

    def all(self, request):
        """Bit mask of every rule the request matches (bit i is rule i)."""
        if self._n == 0 or self._eval(request, True) < 0:
            return 0
        return self._mask()

    def first_many(self, requests):
        """``first`` for a whole batch in one call."""
        cdef list out = []
        for request in requests:
            out.append(-1 if self._n == 0 else self._eval(request, False))
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
