# Included by _matcher_c.pyx: the sets of rules the matcher intersects, how
# they are stored, built (linear time) and combined.
#
# A set of rules is either a dense row, a bitset of W = ceil(n/64) uint64
# words in one shared table, or a sparse list of rule indexes (int32,
# ascending) in one shared pool. Fixed sets (a field's "any" rules, and so on)
# are always dense. A value's set is dense only when it holds at least
# max(1, W // DENSE_RATIO) rules, so dense rows take fewer than 2 * DENSE_RATIO
# words per (rule, value) pair, plus the fixed rows: memory is linear in the
# size of the rules. A dense value row already includes its field's "any"
# rules, so a field with one dense hit costs one row.

from libc.stdint cimport int32_t, uint64_t
from libc.string cimport memcpy, memset

cdef extern from *:
    """
    #include <stdint.h>
    #if defined(_MSC_VER)
    #define AP_RESTRICT __restrict
    #else
    #define AP_RESTRICT __restrict__
    #endif
    #define AP_FIELDS 6
    #if defined(__GNUC__) || defined(__clang__)
    static inline int ap_ctz64(uint64_t x) { return __builtin_ctzll(x); }
    #elif defined(_MSC_VER) && defined(_M_X64)
    #include <intrin.h>
    static __inline int ap_ctz64(uint64_t x) {
        unsigned long i; _BitScanForward64(&i, x); return (int)i;
    }
    #else
    static int ap_ctz64(uint64_t x) {
        int n = 0; while (!(x & 1ULL)) { x >>= 1; ++n; } return n;
    }
    #endif
    /* The pass sets of fields 0..nf-1 are a[i] | b[i]; E<nf>(w) is word w of
       their intersection. The kernels below have one loop per field count,
       spelled out, so that the compiler keeps all pointers in registers and
       vectorises the blocks of words. */
    #define AP_ROWS \
        const uint64_t *AP_RESTRICT a0 = a[0], *AP_RESTRICT b0 = b[0]; \
        const uint64_t *AP_RESTRICT a1 = a[1], *AP_RESTRICT b1 = b[1]; \
        const uint64_t *AP_RESTRICT a2 = a[2], *AP_RESTRICT b2 = b[2]; \
        const uint64_t *AP_RESTRICT a3 = a[3], *AP_RESTRICT b3 = b[3]; \
        const uint64_t *AP_RESTRICT a4 = a[4], *AP_RESTRICT b4 = b[4]; \
        const uint64_t *AP_RESTRICT a5 = a[5], *AP_RESTRICT b5 = b[5];
    #define AP_T(i, w) (a##i[w] | b##i[w])
    #define AP_E1(w) AP_T(0, w)
    #define AP_E2(w) (AP_T(0, w) & AP_T(1, w))
    #define AP_E3(w) (AP_T(0, w) & AP_T(1, w) & AP_T(2, w))
    #define AP_E4(w) (AP_T(0, w) & AP_T(1, w) & AP_T(2, w) & AP_T(3, w))
    #define AP_E5(w) (AP_T(0, w) & AP_T(1, w) & AP_T(2, w) & AP_T(3, w) & AP_T(4, w))
    #define AP_E6(w) (AP_T(0, w) & AP_T(1, w) & AP_T(2, w) & AP_T(3, w) & AP_T(4, w) & AP_T(5, w))
    #define AP_SWITCH(LOOP) switch (nf) { \
        case 1: LOOP(AP_E1) break; case 2: LOOP(AP_E2) break; case 3: LOOP(AP_E3) break; \
        case 4: LOOP(AP_E4) break; case 5: LOOP(AP_E5) break; default: LOOP(AP_E6) break; }

    /* Blocks of four words as one vector (GCC and Clang vector extensions: SSE2
       on any x86-64, AVX2 where the CPU has it, NEON on ARM); aligned(8) makes
       the loads and stores safe at any word. */
    #if defined(__GNUC__) || defined(__clang__)
    #define AP_VECTORS 1
    typedef uint64_t ap_v4 __attribute__((vector_size(32), aligned(8)));
    #define AP_VT(i, w) (*(const ap_v4 *)(a##i + (w)) | *(const ap_v4 *)(b##i + (w)))
    #define AP_VE1(w) AP_VT(0, w)
    #define AP_VE2(w) (AP_VT(0, w) & AP_VT(1, w))
    #define AP_VE3(w) (AP_VT(0, w) & AP_VT(1, w) & AP_VT(2, w))
    #define AP_VE4(w) (AP_VT(0, w) & AP_VT(1, w) & AP_VT(2, w) & AP_VT(3, w))
    #define AP_VE5(w) (AP_VT(0, w) & AP_VT(1, w) & AP_VT(2, w) & AP_VT(3, w) & AP_VT(4, w))
    #define AP_VE6(w) (AP_VT(0, w) & AP_VT(1, w) & AP_VT(2, w) & AP_VT(3, w) & AP_VT(4, w) & AP_VT(5, w))
    #define AP_VSWITCH(LOOP) switch (nf) { \
        case 1: LOOP(AP_VE1, AP_E1) break; case 2: LOOP(AP_VE2, AP_E2) break; \
        case 3: LOOP(AP_VE3, AP_E3) break; case 4: LOOP(AP_VE4, AP_E4) break; \
        case 5: LOOP(AP_VE5, AP_E5) break; default: LOOP(AP_VE6, AP_E6) break; }
    /* Built twice on x86-64 with glibc (AVX2 and the baseline), chosen once at
       load by an ifunc; musl and other libcs have no ifunc, so one build there. */
    #if defined(__x86_64__) && defined(__GLIBC__) && !defined(__clang__)
    #define AP_CLONES __attribute__((target_clones("avx2", "default")))
    #else
    #define AP_CLONES
    #endif
    #else
    #define AP_VECTORS 0
    #define AP_CLONES
    #endif

    /* The scalar form: four words a step. */
    #define AP_LOOP(E) \
        for (; w + 4 <= hi; w += 4) { \
            x0 = E(w); x1 = E(w + 1); x2 = E(w + 2); x3 = E(w + 3); \
            acc[w] = x0; acc[w + 1] = x1; acc[w + 2] = x2; acc[w + 3] = x3; \
            if ((x0 | x1 | x2 | x3) && first < 0) { first = w; if (!want_all) break; } \
        } \
        if (first < 0 || want_all) \
            for (; w < hi; w++) { \
                x0 = E(w); acc[w] = x0; \
                if (x0 && first < 0) { first = w; if (!want_all) break; } \
            }
    /* The vector form: a block of four words as one vector. */
    #define AP_VLOOP(VE, E) \
        for (; w + 4 <= hi; w += 4) { \
            x = VE(w); \
            *(ap_v4 *)(acc + w) = x; \
            if ((x[0] | x[1] | x[2] | x[3]) && first < 0) { first = w; if (!want_all) break; } \
        } \
        if (first < 0 || want_all) \
            for (; w < hi; w++) { \
                x0 = E(w); acc[w] = x0; \
                if (x0 && first < 0) { first = w; if (!want_all) break; } \
            }

    #if AP_VECTORS
    AP_CLONES
    static Py_ssize_t ap_intersect_wide(uint64_t *AP_RESTRICT acc, const uint64_t *const *a,
                                        const uint64_t *const *b, int nf, Py_ssize_t lo,
                                        Py_ssize_t hi, int want_all) {
        AP_ROWS
        Py_ssize_t w = lo, first = -1;
        uint64_t x0;
        ap_v4 x;
        AP_VSWITCH(AP_VLOOP)
        while (first >= 0 && acc[first] == 0) first++;  /* within its block */
        return first;
    }
    #endif

    /* acc[w] = E(w) for lo <= w < hi. Returns the first word that is not zero
       (-1: none); with want_all the whole range is computed, else it stops in
       the block of 4 words holding it. Small policies (a few words) stay inline
       and scalar; a call and vectors pay from eight words on. */
    static inline Py_ssize_t ap_intersect(uint64_t *AP_RESTRICT acc, const uint64_t *const *a,
                                          const uint64_t *const *b, int nf, Py_ssize_t lo,
                                          Py_ssize_t hi, int want_all) {
    #if AP_VECTORS
        if (hi - lo >= 8) return ap_intersect_wide(acc, a, b, nf, lo, hi, want_all);
    #endif
        AP_ROWS
        Py_ssize_t w = lo, first = -1;
        uint64_t x0, x1, x2, x3;
        AP_SWITCH(AP_LOOP)
        while (first >= 0 && acc[first] == 0) first++;  /* within its block */
        return first;
    }
    #undef AP_LOOP
    #undef AP_VLOOP
    /* Whether E and x have a rule in common in words lo <= w < hi; stops at
       the first word where they do. */
    static inline int ap_meets(const uint64_t *const *a, const uint64_t *const *b, int nf,
                               Py_ssize_t lo, Py_ssize_t hi, const uint64_t *AP_RESTRICT x) {
        AP_ROWS
        Py_ssize_t w;
        #define AP_TEST(E) for (w = lo; w < hi; w++) if (E(w) & x[w]) return 1;
        AP_SWITCH(AP_TEST)
        #undef AP_TEST
        return 0;
    }
    /* dst[w] |= src[w] over lo <= w < hi. */
    static inline void ap_or(uint64_t *AP_RESTRICT dst, const uint64_t *AP_RESTRICT src,
                             Py_ssize_t lo, Py_ssize_t hi) {
        for (Py_ssize_t w = lo; w < hi; w++) dst[w] |= src[w];
    }
    """
    enum: AP_FIELDS
    # Index of the lowest set bit; x must be non-zero.
    int ap_ctz64(uint64_t x) noexcept nogil
    Py_ssize_t ap_intersect(uint64_t* acc, const uint64_t** a, const uint64_t** b, int nf,
                            Py_ssize_t lo, Py_ssize_t hi, bint want_all) noexcept nogil
    bint ap_meets(const uint64_t** a, const uint64_t** b, int nf, Py_ssize_t lo, Py_ssize_t hi,
                  const uint64_t* x) noexcept nogil
    void ap_or(uint64_t* dst, const uint64_t* src, Py_ssize_t lo, Py_ssize_t hi) noexcept nogil


cdef enum:
    DENSE_RATIO = 4


# --------------------------------------------------------------------------
# Evaluation. The lookups gather, for each field that needs testing, its pass
# set as at most two rows a | b: its dense hits (which include the field's
# "any" rules) or else its "any" row, plus the field's scratch row `extra`
# holding further dense hits and all sparse hits. Then one pass over the
# words intersects the fields (ap_intersect). The resources and URL fields
# are looked up only if some rule passing the fields before needs them
# (ap_meets); else their "any" row stands for them.

ctypedef struct Sets:
    const uint64_t* a[AP_FIELDS]
    const uint64_t* b[AP_FIELDS]
    uint64_t* extra[AP_FIELDS]   # all zero between requests
    Py_ssize_t xlo[AP_FIELDS]    # extra[i] may be non-zero in words xlo[i]..xhi[i]-1 only
    Py_ssize_t xhi[AP_FIELDS]
    int nf                       # fields gathered so far; field nf is being gathered
    Py_ssize_t lo, hi            # no rule outside words lo..hi-1 can match
    uint64_t* acc                # the match set (words lo..hi-1)
    const uint64_t* zero         # a row of zeros, for a missing b
    const uint64_t* table
    const int32_t* pool
    Py_ssize_t W


cdef inline void _field_start(Sets* s) noexcept nogil:
    s.a[s.nf] = NULL
    s.b[s.nf] = NULL
    s.xlo[s.nf] = s.W
    s.xhi[s.nf] = 0


cdef inline void _add_set(Sets* s, const APRef* r) noexcept nogil:
    """Add one set of rules to the field being gathered."""
    cdef int f = s.nf
    cdef Py_ssize_t k, i, lo, hi
    cdef uint64_t* extra = s.extra[f]
    cdef const uint64_t* row
    if r.dense >= 0:
        row = s.table + <Py_ssize_t>r.dense * s.W
        if s.a[f] == NULL:
            s.a[f] = row
        elif s.b[f] == NULL:
            s.b[f] = row
        else:
            ap_or(extra, row, 0, s.W)
            s.xlo[f] = 0
            s.xhi[f] = s.W
        return
    for k in range(r.start, r.start + r.count):
        i = s.pool[k]
        extra[i >> 6] |= (<uint64_t>1) << (i & 63)
    lo = s.pool[r.start] >> 6
    hi = (s.pool[r.start + r.count - 1] >> 6) + 1
    if lo < s.xlo[f]:
        s.xlo[f] = lo
    if hi > s.xhi[f]:
        s.xhi[f] = hi


cdef inline void _add_hit(Sets* s, _StrMap index, PyObject* key) noexcept:
    cdef const APRef* r = _find(index, key)
    if r != NULL:
        _add_set(s, r)


cdef inline bint _field_end(Sets* s, const uint64_t* any_row) noexcept nogil:
    """Close the field being gathered; False when it passes no rule at all.

    any_row (NULL: no such rules) stands in when no dense row was hit: a dense
    value row includes it already.
    """
    cdef int f = s.nf
    cdef bint has_extra = s.xlo[f] < s.xhi[f]
    s.nf += 1
    if s.a[f] == NULL:
        s.a[f] = any_row
    if has_extra:
        if s.a[f] == NULL:
            # Sparse hits only: no rule outside their words passes.
            s.a[f] = s.extra[f]
            if s.xlo[f] > s.lo:
                s.lo = s.xlo[f]
            if s.xhi[f] < s.hi:
                s.hi = s.xhi[f]
        elif s.b[f] == NULL:
            s.b[f] = s.extra[f]
        else:
            ap_or(s.extra[f], s.b[f], 0, s.W)
            s.b[f] = s.extra[f]
            s.xlo[f] = 0
            s.xhi[f] = s.W
    if s.b[f] == NULL:
        s.b[f] = s.zero
    return s.a[f] != NULL


cdef inline void _clean(Sets* s) noexcept nogil:
    """Zero the scratch rows the gathered fields wrote to; no field is gathered after."""
    cdef int f
    for f in range(s.nf):
        if s.xlo[f] < s.xhi[f]:
            memset(s.extra[f] + s.xlo[f], 0, <size_t>(s.xhi[f] - s.xlo[f]) * sizeof(uint64_t))
    s.nf = 0


# --------------------------------------------------------------------------
# Compilation. While the rules are read, each set is a chain of postings
# (rule indexes, newest first, a repeat of the newest dropped) in one growable
# array: O(1) per (rule, value) pair. Then _Layout.place turns each chain into
# a dense row or a sparse list, written at once into the growable table or
# pool. Offsets are int32: up to 2**31 - 1 postings and dense rows.

ctypedef struct Posting:
    int32_t rule
    int32_t next   # the previous posting of the same set


cdef class _Layout:
    """The postings while compiling, and the table and pool they become."""
    cdef Py_ssize_t W, dense_min
    cdef Posting* postings
    cdef Py_ssize_t posted, post_cap
    cdef uint64_t* table      # dense rows (owned until CMatcher takes them)
    cdef Py_ssize_t words, table_cap
    cdef int32_t* pool        # sparse lists
    cdef Py_ssize_t pooled, pool_cap

    def __cinit__(self, Py_ssize_t W):
        self.W = W
        self.dense_min = max(1, W // DENSE_RATIO)

    def __dealloc__(self):
        free(self.postings)
        free(self.table)
        free(self.pool)

    cdef int post(self, APRef* ref, Py_ssize_t rule) except -1:
        """Add rule (no lower than any rule added before) to ref's chain."""
        if ref.count and self.postings[ref.start].rule == rule:
            return 0  # a rule naming a value twice
        if self.posted >= (1 << 31) - 1:
            raise OverflowError("more than 2**31 - 1 (rule, value) pairs")
        _grow(<void**>&self.postings, &self.post_cap, self.posted + 1, sizeof(Posting))
        self.postings[self.posted].rule = <int32_t>rule
        self.postings[self.posted].next = ref.start
        ref.start = <int32_t>self.posted
        ref.count += 1
        self.posted += 1
        return 0

    cdef Py_ssize_t place(self, APRef* ref, Py_ssize_t base, bint dense) except -2:
        """Turn ref's chain into its set: a dense row holding base's rules too
        (when dense, or when the chain is long enough), else a sparse list.
        Returns the word offset of the dense row, or -1."""
        cdef Py_ssize_t k, i, p = ref.start, count = ref.count, W = self.W
        cdef uint64_t* row
        if dense or count >= self.dense_min:
            _grow(<void**>&self.table, &self.table_cap, self.words + W, sizeof(uint64_t))
            row = self.table + self.words
            if base >= 0:
                memcpy(row, self.table + base, <size_t>W * sizeof(uint64_t))
            else:
                memset(row, 0, <size_t>W * sizeof(uint64_t))
            for k in range(count):
                i = self.postings[p].rule
                row[i >> 6] |= (<uint64_t>1) << (i & 63)
                p = self.postings[p].next
            if self.words // W >= (1 << 31) - 1:
                raise OverflowError("too many dense rows")
            ref.dense = <int32_t>(self.words // W)
            ref.start = ref.count = 0
            self.words += W
            return self.words - W
        _grow(<void**>&self.pool, &self.pool_cap, self.pooled + count, sizeof(int32_t))
        for k in range(count - 1, -1, -1):  # the chain is newest first
            self.pool[self.pooled + k] = self.postings[p].rule
            p = self.postings[p].next
        ref.dense = -1
        ref.start = <int32_t>self.pooled
        self.pooled += count
        return -1

    cdef Py_ssize_t all_rules(self, Py_ssize_t n) except -2:
        """A dense row holding rules 0..n-1: its word offset, or -1 when n is 0."""
        cdef Py_ssize_t W = self.W
        cdef uint64_t* row
        if n == 0:
            return -1
        _grow(<void**>&self.table, &self.table_cap, self.words + W, sizeof(uint64_t))
        row = self.table + self.words
        memset(row, 0xFF, <size_t>(n // 64) * sizeof(uint64_t))
        memset(row + n // 64, 0, <size_t>(W - n // 64) * sizeof(uint64_t))
        if n % 64:
            row[n // 64] = ((<uint64_t>1) << (n % 64)) - 1
        self.words += W
        return self.words - W

    cdef Py_ssize_t fixed(self, APRef* ref) except -2:
        """A fixed set as a dense row: its word offset, or -1 when it is empty."""
        return self.place(ref, -1, True) if ref.count else -1

    cdef int place_map(self, _StrMap m, Py_ssize_t base) except -1:
        cdef size_t i
        for i in range(m.mask + 1):
            if m.slots[i].meta != 0:
                self.place(&m.slots[i].ref, base, False)
        if m.other is not None:
            for r in m.other.values():
                self.place(&(<_Ref>r).ref, base, False)
        return 0
