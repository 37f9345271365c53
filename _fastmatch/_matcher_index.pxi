# Included by _matcher_c.pyx: the GroupResources index.
#
# One _KeyMap holds every key of the policy's GroupResources entries, with
# the strings in it replaced by numbers (symbols, from 1), so a request
# looks its api group, resource, subresource and name up once each and then
# probes integer keys. A key is (kind, name, group) in k1 and up to two
# symbols in k2; by kind, the rules it holds are those with an entry for the
# group that has
#   RK_GROUP   an empty resources list (the whole group; resourceNames then
#              ignored, so name 0), or the pattern "*"
#   RK_NOSUB   pattern r (== combined) or "r/*": what a request for
#              resource r without a subresource matches
#   RK_PREFIX  pattern "r/*" (for requests with a subresource)
#   RK_SPLIT   pattern "r/x" (split at every "/"): == resource "/" subresource
#   RK_SUB     pattern "*/x", == a non-empty subresource x
#   RK_INFO    not rules: the bit mask of the kinds present for (name, group)
# name is 0 for entries without resourceNames. An entry with resourceNames
# is indexed under each name it lists, so the name check is part of the key.
# For name 0 the mask is kept with the group's symbol instead (in ref.start),
# with RK_NAMED set when some entry for the group lists resourceNames.
# Memory: per pattern a few keys (one more per "/" in it), per distinct
# string one symbol.

cdef enum:
    RK_GROUP = 1
    RK_NOSUB = 2
    RK_PREFIX = 3
    RK_SPLIT = 4
    RK_SUB = 5
    RK_INFO = 6
    RK_NAMED = 7
    SYMBOL_BITS = 29


cdef inline uint64_t _k1(int kind, uint64_t name, uint64_t group) noexcept nogil:
    return ((<uint64_t>kind) << 58) | (name << SYMBOL_BITS) | group


cdef str _as_str(object pattern):
    # Patterns are parsed here, so they must be str (a subclass is read as a str).
    if type(pattern) is str:
        return <str>pattern
    if isinstance(pattern, str):
        return str.__str__(pattern)
    raise TypeError(f"a GroupResources resources pattern must be str, not {type(pattern).__name__}")


cdef class _ResourceIndex:
    cdef _StrMap symbols      # str -> symbol (in ref.dense; ref.start: see above; ref.count 1)
    cdef _KeyMap keys
    cdef Py_ssize_t count     # symbols given out
    cdef uint64_t star        # the symbol of group "*" when some entry names it, else 0
    cdef int star_kinds       # its mask

    def __cinit__(self):
        self.symbols = _StrMap()
        self.keys = _KeyMap()

    # ---- compiling ----

    cdef uint64_t symbol(self, object s) except 0:
        cdef APRef* r = self.symbols.add(s)
        if r.count == 0:
            if self.count + 1 >= (1 << SYMBOL_BITS):
                raise OverflowError("too many distinct strings in GroupResources entries")
            self.count += 1
            r.dense = <int32_t>self.count
            r.count = 1
        return <uint64_t>r.dense

    cdef int add_entry(self, _Layout layout, object group, tuple patterns, tuple names,
                       Py_ssize_t rule) except -1:
        """Index one GroupResources entry of rule."""
        cdef uint64_t g = self.symbol(group), nm
        cdef int kinds = 0
        if isinstance(group, str) and group == "*":
            self.star = g
        if not patterns:
            kinds = self._post(layout, RK_GROUP, 0, g, 0, rule)
        elif not names:
            for pattern in patterns:
                kinds |= self._pattern(layout, 0, g, _as_str(pattern), rule)
        else:
            for name in dict.fromkeys(names):
                nm = self.symbol(name)
                kinds = 0
                for pattern in patterns:
                    kinds |= self._pattern(layout, nm, g, _as_str(pattern), rule)
                self.keys.add(_k1(RK_INFO, nm, g), 0).count |= kinds
            kinds = 1 << RK_NAMED
        self.symbols.add(group).start |= kinds
        return 0

    cdef int _pattern(self, _Layout layout, uint64_t nm, uint64_t g, str pattern,
                      Py_ssize_t rule) except -1:
        """Index one pattern; returns the kinds of the keys it went to."""
        cdef Py_ssize_t k
        cdef int kinds
        if pattern == "*":
            # Also covers combined == "*": no exact key needed.
            return self._post(layout, RK_GROUP, nm, g, 0, rule)
        kinds = self._post(layout, RK_NOSUB, nm, g, self.symbol(pattern), rule)
        # pattern == resource + "/" + sub for every split at a "/" with a
        # non-empty tail (with a subresource, sub is never empty).
        k = pattern.find("/")
        while k >= 0:
            if k + 1 < len(pattern):
                kinds |= self._post(layout, RK_SPLIT, nm, g,
                                    (self.symbol(pattern[:k]) << 32) | self.symbol(pattern[k + 1:]), rule)
            k = pattern.find("/", k + 1)
        # "*/" alone would need an empty subresource, which never passes the
        # "request has a subresource" test.
        if pattern.startswith("*/") and len(pattern) > 2:
            kinds |= self._post(layout, RK_SUB, nm, g, self.symbol(pattern[2:]), rule)
        if pattern.endswith("/*"):
            k = self.symbol(pattern[:len(pattern) - 2])
            kinds |= self._post(layout, RK_PREFIX, nm, g, k, rule)
            kinds |= self._post(layout, RK_NOSUB, nm, g, k, rule)
        return kinds

    cdef int _post(self, _Layout layout, int kind, uint64_t nm, uint64_t g, uint64_t k2,
                   Py_ssize_t rule) except -1:
        layout.post(self.keys.add(_k1(kind, nm, g), k2), rule)
        return 1 << kind

    cdef int place(self, _Layout layout, Py_ssize_t base) except -1:
        """Lay every set out; dense rows also hold base's rules."""
        cdef size_t i
        for i in range(self.keys.mask + 1):
            if self.keys.slots[i].k1 != 0 and self.keys.slots[i].k1 >> 58 != RK_INFO:
                layout.place(&self.keys.slots[i].ref, base, False)
        if self.star:
            self.star_kinds = self.symbols.add("*").start
        return 0

    # ---- evaluating ----

    cdef void hits(self, Sets* s, const Req* q) noexcept:
        """Add the rules whose resources match q to the field being gathered."""
        cdef const APRef* ref = _find(self.symbols, q.api_group)
        cdef uint64_t g = 0, r = 0, x = 0, nm
        cdef int kinds_g = 0, kinds_star = 0
        if ref != NULL:
            g = <uint64_t>ref.dense
            kinds_g = ref.start
        # Group keys {api_group, "*"} (once when api_group is literally "*").
        if self.star != g:
            kinds_star = self.star_kinds
        if not ((kinds_g | kinds_star) & ~(1 << RK_GROUP)):
            # Only whole-group keys: no other string is needed.
            self._group_hits(s, 0, g, kinds_g, 0, 0, q.has_sub)
            self._group_hits(s, 0, self.star, kinds_star, 0, 0, q.has_sub)
            return
        r = self._lookup(q.resource)
        if q.has_sub:
            x = self._lookup(q.sub)
        self._group_hits(s, 0, g, kinds_g, r, x, q.has_sub)
        self._group_hits(s, 0, self.star, kinds_star, r, x, q.has_sub)
        if (kinds_g | kinds_star) & (1 << RK_NAMED):
            nm = self._lookup(q.name)
            if nm:
                self._group_hits(s, nm, g, self._kinds(nm, g), r, x, q.has_sub)
                if self.star != g:
                    self._group_hits(s, nm, self.star, self._kinds(nm, self.star), r, x, q.has_sub)

    cdef inline uint64_t _lookup(self, PyObject* s) noexcept:
        cdef const APRef* r = _find(self.symbols, s)
        return 0 if r == NULL else <uint64_t>r.dense

    cdef inline int _kinds(self, uint64_t nm, uint64_t g) noexcept:
        """The RK_INFO mask for (nm, g): 0 when nothing is indexed there."""
        cdef const APRef* info
        if g == 0:
            return 0
        info = ap_kfind(self.keys.slots, self.keys.mask, _k1(RK_INFO, nm, g), 0)
        return 0 if info == NULL else info.count

    cdef inline void _group_hits(self, Sets* s, uint64_t nm, uint64_t g, int kinds, uint64_t r,
                                 uint64_t x, bint has_sub) noexcept:
        cdef uint64_t k1 = _k1(0, nm, g)
        if kinds & (1 << RK_GROUP):
            self._hit(s, k1 | _k1(RK_GROUP, 0, 0), 0)
        if r != 0:
            if not has_sub:
                if kinds & (1 << RK_NOSUB):
                    self._hit(s, k1 | _k1(RK_NOSUB, 0, 0), r)
            else:
                if kinds & (1 << RK_PREFIX):
                    self._hit(s, k1 | _k1(RK_PREFIX, 0, 0), r)
                if x != 0 and kinds & (1 << RK_SPLIT):
                    self._hit(s, k1 | _k1(RK_SPLIT, 0, 0), (r << 32) | x)
        if x != 0 and kinds & (1 << RK_SUB):
            self._hit(s, k1 | _k1(RK_SUB, 0, 0), x)

    cdef inline void _hit(self, Sets* s, uint64_t k1, uint64_t k2) noexcept:
        cdef const APRef* ref = ap_kfind(self.keys.slots, self.keys.mask, k1, k2)
        if ref != NULL:
            _add_set(s, ref)
