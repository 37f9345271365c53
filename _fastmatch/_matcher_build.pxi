# Included by _matcher_c.pyx: reading a policy's rules into tables of sets
# (the compile, linear in the size of the rules; see the top of the .pyx).

cdef int _post_field(_Layout layout, _StrMap index, APRef* any_set, tuple values,
                     Py_ssize_t rule) except -1:
    # One identity field of one rule: its values, or "any".
    if not values:
        return layout.post(any_set, rule)
    for v in values:
        layout.post(index.add(v), rule)
    return 0


cdef inline _StrMap _unless_empty(_StrMap m):
    return m if m.used or m.other else None


# The fixed sets: every rule, each field's "any" rules (see the .pyx), and
# the rules the resources and URL lookups could let through (R rules with
# resources, N rules without a "*" URL).
cdef enum:
    F_ALL = 0
    F_USERS = 1
    F_GROUPS = 2
    F_VERBS = 3
    F_LEVELS = 4
    F_NS = 5
    F_RES = 6
    F_URL = 7
    F_RES_LOOKUPS = 8
    F_URL_LOOKUPS = 9
    F_COUNT = 10


cdef class _Build:
    """A policy being compiled: its tables filled from the rules, then its sets laid out."""
    cdef Py_ssize_t n, W
    cdef _Layout layout
    cdef APRef any_sets[F_COUNT]
    cdef Py_ssize_t fixed[F_COUNT]   # word offsets of the fixed rows (-1: empty set)
    cdef bint full[F_COUNT]          # the field's "any" rules are every rule
    cdef _StrMap users, groups, verbs, levels, ns, url_exact, stems
    cdef _ResourceIndex res

    def __cinit__(self, tuple norm):
        self.n = len(norm)
        if self.n >= (1 << 31) - 1:
            raise OverflowError("too many rules")
        self.W = (self.n + 63) // 64 if self.n else 1
        self.layout = _Layout(self.W)
        memset(self.any_sets, 0, sizeof(self.any_sets))
        self.users, self.groups, self.verbs, self.levels = _StrMap(), _StrMap(), _StrMap(), _StrMap()
        self.ns, self.url_exact, self.stems = _StrMap(), _StrMap(), _StrMap(True)
        self.res = _ResourceIndex()
        self._read(norm)
        self._place()

    cdef int _read(self, tuple norm) except -1:
        cdef Py_ssize_t i
        cdef _Layout layout = self.layout
        cdef APRef* any_sets = self.any_sets
        for i in range(self.n):
            rule_users, rule_groups, rule_verbs, rule_ns, rule_res, rule_urls, rule_levels = norm[i]
            _post_field(layout, self.users, &any_sets[F_USERS], rule_users, i)
            _post_field(layout, self.groups, &any_sets[F_GROUPS], rule_groups, i)
            _post_field(layout, self.verbs, &any_sets[F_VERBS], rule_verbs, i)
            _post_field(layout, self.levels, &any_sets[F_LEVELS], rule_levels, i)
            if rule_ns or rule_res:
                # R: the resource match decides; nonResourceURLs are ignored.
                _post_field(layout, self.ns, &any_sets[F_NS], rule_ns, i)
                layout.post(&any_sets[F_RES_LOOKUPS if rule_res else F_RES], i)
                for group, patterns, names in rule_res:
                    self.res.add_entry(layout, group, patterns, names, i)
            elif rule_urls:
                wildcard = False
                for url in rule_urls:
                    if url.endswith("*"):
                        stem = url.rstrip("*")
                        if stem:
                            layout.post(self.stems.add(stem), i)
                        else:
                            wildcard = True  # "*", "**", ...: every path
                    else:
                        # (A trailing-"*" URL equal to the path also has the
                        # path start with its stem: no exact entry needed.)
                        layout.post(self.url_exact.add(url), i)
                layout.post(&any_sets[F_URL if wildcard else F_URL_LOOKUPS], i)
            else:
                # A: passes every scope field.
                layout.post(&any_sets[F_NS], i)
                layout.post(&any_sets[F_RES], i)
                layout.post(&any_sets[F_URL], i)
        return 0

    cdef int _place(self) except -1:
        # Fixed rows first: dense value rows copy them.
        cdef int f
        cdef _Layout layout = self.layout
        self.fixed[F_ALL] = layout.all_rules(self.n)
        self.full[F_ALL] = False
        for f in range(F_USERS, F_COUNT):
            self.full[f] = self.any_sets[f].count == self.n
            self.fixed[f] = layout.fixed(&self.any_sets[f])
        layout.place_map(self.users, self.fixed[F_USERS])
        layout.place_map(self.groups, self.fixed[F_GROUPS])
        layout.place_map(self.verbs, self.fixed[F_VERBS])
        layout.place_map(self.levels, self.fixed[F_LEVELS])
        layout.place_map(self.ns, self.fixed[F_NS])
        layout.place_map(self.url_exact, self.fixed[F_URL])
        layout.place_map(self.stems, self.fixed[F_URL])
        self.res.place(layout, self.fixed[F_RES])
        return 0
