# Included by _matcher_c.pyx: the hash tables behind the matcher's lookups.
#
# Evaluation is mostly lookups (~5-10 per request), and a Python dict hit
# costs a chain of calls and four dependent loads (index, entry, key object,
# value object). A _StrMap slot holds the key's hash, size and place in an
# arena of characters, and the value (a set of rules) in 24 bytes: a hit
# reads one slot and compares the characters in place, a miss usually reads
# one slot, and no key object is touched. The hash is the one Python caches
# in every str. A _KeyMap is the same keyed by 128-bit integers (see
# _matcher_index).
# Both are filled in place while compiling (the value then being a chain of
# rules, see _Layout) and read as they are afterwards: linear probing, grown
# by doubling, at most two thirds full (a _KeyMap three quarters).
#
# Keys that are not str (the rules are str by contract; allowed anyway) live
# in a plain dict beside the slots, so that every key matches as it does in
# the Python twin (``==``; a str subclass compares as a str).

from cpython.object cimport PyObject
from libc.stdint cimport int32_t, uint32_t, uint64_t
from libc.stdlib cimport calloc, free
from libc.string cimport memcpy

cdef extern from "Python.h":
    # Borrowed reference; NULL when absent, or with an error set when the key
    # cannot be hashed (see _dict_get).
    PyObject* _dict_get_we "PyDict_GetItemWithError"(object d, object key)
    PyObject* PyErr_Occurred()
    void PyErr_Clear()
    Py_ssize_t Py_SIZE(PyObject* o)
    # Item i of a tuple or a list, borrowed (both keep items at the same place).
    PyObject* _sequence_item "PySequence_Fast_GET_ITEM"(PyObject* o, Py_ssize_t i)
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
    #include <stdint.h>
    #include <string.h>
    /* Every str is "ready" since 3.12, where the call is deprecated. */
    #if PY_VERSION_HEX >= 0x030C0000
    #define AP_UNICODE_READY(s) 0
    #else
    #define AP_UNICODE_READY(s) PyUnicode_READY(s)
    #endif

    /* A set of rules: dense >= 0 is the number of a dense row (at word
       dense * W of the table), else the sparse list pool[start:start + count].
       While compiling: a chain of count rules from posting `start` (see
       _Layout). A symbol (see _matcher_index) is kept in dense. */
    typedef struct { int32_t dense, start, count; } APRef;
    /* A str key: its characters are bytes off..off + (meta >> 3) - 1 of the
       map's arena, of width meta & 7 (the str "kind"); meta 0: empty slot.
       hash: the low 32 bits of the str hash. 24 bytes. */
    typedef struct { uint32_t hash, off, meta; APRef ref; } APSlot;
    typedef struct { uint64_t k1, k2; APRef ref; } APKSlot;                /* k1 0: empty */

    static inline uint32_t ap_meta(PyObject *s) {
        return (uint32_t)(PyUnicode_GET_LENGTH(s) * PyUnicode_KIND(s)) << 3 | PyUnicode_KIND(s);
    }
    /* x[:n] == y[:n], with a few loads for the short keys of a policy
       (overlapping 8-, 4- or 2-byte loads) rather than a call to memcmp. */
    static inline int ap_bytes_eq(const char *x, const char *y, size_t n) {
        uint64_t u, v;
        uint32_t a, b, c, d;
        uint16_t e, f, g, h;
        size_t i;
        if (n >= 8) {
            for (i = 0; i + 8 < n; i += 8) {
                memcpy(&u, x + i, 8);
                memcpy(&v, y + i, 8);
                if (u != v) return 0;
            }
            memcpy(&u, x + n - 8, 8);
            memcpy(&v, y + n - 8, 8);
            return u == v;
        }
        if (n >= 4) {
            memcpy(&a, x, 4); memcpy(&b, y, 4); memcpy(&c, x + n - 4, 4); memcpy(&d, y + n - 4, 4);
            return a == b && c == d;
        }
        if (n >= 2) {
            memcpy(&e, x, 2); memcpy(&f, y, 2); memcpy(&g, x + n - 2, 2); memcpy(&h, y + n - 2, 2);
            return e == f && g == h;
        }
        return n == 0 || *x == *y;
    }
    /* The str hash, as cached in the object (computed once if need be). */
    static inline Py_hash_t ap_hash(PyObject *s) {
        Py_hash_t h = ((PyASCIIObject *)s)->hash;
        return h != -1 ? h : PyUnicode_Type.tp_hash(s);
    }
    /* The slot of str key (or of where it would go), key a str or subclass. */
    static inline APSlot *ap_slot(APSlot *slots, size_t mask, const char *arena, PyObject *key,
                                  uint32_t h) {
        uint32_t meta = ap_meta(key);
        const char *data = (const char *)PyUnicode_DATA(key);
        size_t i;
        for (i = (size_t)h & mask;; i = (i + 1) & mask) {
            APSlot *s = &slots[i];
            if (s->meta == 0) return s;
            if (s->hash == h && s->meta == meta && ap_bytes_eq(arena + s->off, data, meta >> 3))
                return s;
        }
    }
    static inline const APRef *ap_find(APSlot *slots, size_t mask, const char *arena,
                                       PyObject *key) {
        APSlot *s;
        if (AP_UNICODE_READY(key) < 0) { PyErr_Clear(); return NULL; }
        /* No key is that long (see _StrMap.add), and meta could not say so. */
        if ((size_t)PyUnicode_GET_LENGTH(key) * PyUnicode_KIND(key) >= ((size_t)1 << 29)) return NULL;
        s = ap_slot(slots, mask, arena, key, (uint32_t)ap_hash(key));
        return s->meta == 0 ? NULL : &s->ref;
    }
    static inline APKSlot *ap_kslot(APKSlot *slots, size_t mask, uint64_t k1, uint64_t k2) {
        uint64_t x = (k1 * 0x9E3779B97F4A7C15ULL) ^ k2;
        size_t i;
        x ^= x >> 33;
        x *= 0xC2B2AE3D27D4EB4FULL;
        x ^= x >> 29;
        for (i = (size_t)x & mask;; i = (i + 1) & mask) {
            APKSlot *s = &slots[i];
            if ((s->k1 == k1 && s->k2 == k2) || s->k1 == 0) return s;
        }
    }
    static inline const APRef *ap_kfind(APKSlot *slots, size_t mask, uint64_t k1, uint64_t k2) {
        APKSlot *s = ap_kslot(slots, mask, k1, k2);
        return s->k1 == 0 ? NULL : &s->ref;
    }
    """
    ctypedef struct APRef:
        int32_t dense, start, count
    ctypedef struct APSlot:
        uint32_t hash, off, meta
        APRef ref
    ctypedef struct APKSlot:
        uint64_t k1, k2
        APRef ref
    APSlot* ap_slot(APSlot* slots, size_t mask, const char* arena, object key, uint32_t h) noexcept
    const APRef* ap_find(APSlot* slots, size_t mask, const char* arena, PyObject* key) noexcept
    uint32_t ap_meta(object s) noexcept
    APKSlot* ap_kslot(APKSlot* slots, size_t mask, uint64_t k1, uint64_t k2) noexcept
    const APRef* ap_kfind(APKSlot* slots, size_t mask, uint64_t k1, uint64_t k2) noexcept
    int PyUnicode_READY "AP_UNICODE_READY"(object s) except -1
    bint _is_str "PyUnicode_Check"(PyObject* o) noexcept


cdef extern from "stdlib.h":
    void* realloc(void* p, size_t size) nogil


cdef int _grow(void** p, Py_ssize_t* cap, Py_ssize_t need, size_t item) except -1:
    """Make *p hold at least need items (new space uninitialised)."""
    cdef Py_ssize_t size = cap[0] if cap[0] > 0 else 64
    cdef void* q
    if need <= cap[0]:
        return 0
    while size < need:
        size *= 2
    q = realloc(p[0], <size_t>size * item)
    if q == NULL:
        raise MemoryError()
    p[0] = q
    cap[0] = size
    return 0


cdef class _Ref:
    """The value of a key that is not a str."""
    cdef APRef ref


cdef class _StrMap:
    """str -> APRef (plus the dict `other` for keys that are not str)."""
    cdef APSlot* slots
    cdef size_t mask, used
    cdef char* arena           # the keys' characters
    cdef Py_ssize_t arena_used, arena_cap
    cdef dict other
    cdef list keys             # the str keys in insertion order, when asked for

    def __cinit__(self, bint keep_keys=False):
        self.slots = <APSlot*>calloc(8, sizeof(APSlot))
        if self.slots == NULL:
            raise MemoryError()
        self.mask = 7
        self.keys = [] if keep_keys else None

    def __dealloc__(self):
        free(self.slots)
        free(self.arena)

    cdef APRef* add(self, object key) except NULL:
        """The value of key, added (zeroed) if absent."""
        cdef APSlot* s
        cdef uint32_t meta, h
        cdef size_t size
        if not isinstance(key, str):
            if self.other is None:
                self.other = {}
            r = self.other.get(key)
            if r is None:
                r = self.other[key] = _Ref()
            return &(<_Ref>r).ref
        if type(key) is not str:
            key = str.__str__(key)  # a subclass: its characters, as a plain str
        if 3 * (self.used + 1) > 2 * (self.mask + 1):
            self._grow()
        h = <uint32_t>(<Py_hash_t>hash(key))
        s = ap_slot(self.slots, self.mask, self.arena, key, h)
        if s.meta == 0:
            meta = ap_meta(key)
            size = meta >> 3
            if <Py_ssize_t>size != len(key) * PyUnicode_KIND(key) or self.arena_used + <Py_ssize_t>size > 0xFFFFFFFF:
                raise OverflowError("a rule value of 512 MB or more, or 4 GB of them")
            _grow(<void**>&self.arena, &self.arena_cap, self.arena_used + size, 1)
            memcpy(self.arena + self.arena_used, PyUnicode_DATA(key), size)
            s.off = <uint32_t>self.arena_used
            s.meta = meta
            s.hash = h
            self.arena_used += size
            self.used += 1
            if self.keys is not None:
                self.keys.append(key)
        return &s.ref

    cdef int _grow(self) except -1:
        cdef size_t i, j, size = 2 * (self.mask + 1)
        cdef APSlot* old = self.slots
        cdef APSlot* new = <APSlot*>calloc(size, sizeof(APSlot))
        if new == NULL:
            raise MemoryError()
        for i in range(self.mask + 1):
            if old[i].meta != 0:
                # Keys are distinct: the first free slot will do.
                j = <size_t>old[i].hash & (size - 1)
                while new[j].meta != 0:
                    j = (j + 1) & (size - 1)
                new[j] = old[i]
        self.slots = new
        self.mask = size - 1
        free(old)
        return 0


cdef class _KeyMap:
    """(k1, k2) -> APRef, for k1 != 0. Its lookups are mostly hits (see
    _matcher_index), so it may be three quarters full."""
    cdef APKSlot* slots
    cdef size_t mask, used

    def __cinit__(self):
        self.slots = <APKSlot*>calloc(8, sizeof(APKSlot))
        if self.slots == NULL:
            raise MemoryError()
        self.mask = 7

    def __dealloc__(self):
        free(self.slots)

    cdef APRef* add(self, uint64_t k1, uint64_t k2) except NULL:
        """The value of (k1, k2), added (zeroed) if absent."""
        cdef size_t i, size
        cdef APKSlot* old
        cdef APKSlot* s
        if 4 * (self.used + 1) > 3 * (self.mask + 1):
            size = 2 * (self.mask + 1)
            old = self.slots
            self.slots = <APKSlot*>calloc(size, sizeof(APKSlot))
            if self.slots == NULL:
                self.slots = old
                raise MemoryError()
            for i in range(self.mask + 1):
                if old[i].k1 != 0:
                    ap_kslot(self.slots, size - 1, old[i].k1, old[i].k2)[0] = old[i]
            self.mask = size - 1
            free(old)
        s = ap_kslot(self.slots, self.mask, k1, k2)
        if s.k1 == 0:
            s.k1 = k1
            s.k2 = k2
            self.used += 1
        return &s.ref


cdef inline const APRef* _find(_StrMap m, PyObject* key) noexcept:
    """The value of key (borrowed), or NULL."""
    cdef PyObject* p
    if _is_str(key):
        return ap_find(m.slots, m.mask, m.arena, key)
    if m.other is None:
        return NULL
    p = _dict_get(m.other, <object>key)
    return NULL if p == NULL else &(<_Ref>p).ref
