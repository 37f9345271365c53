# Included by _matcher_c.pyx: the URL prefixes (nonResourceURLs ending in
# "*", trailing "*"s stripped: the stems).
#
# An open-addressing table keyed by (FNV-1a of the stem's code points,
# length). A request hashes its path one code point at a time and, at each
# length some stem has, probes for a stem of that length and hash, then
# confirms it with a real comparison: one probe per distinct stem length, no
# substring built.

cdef extern from *:
    """
    #define AP_FNV_BASIS 0xcbf29ce484222325ULL
    #define AP_FNV_PRIME 0x100000001b3ULL
    """
    const uint64_t FNV_BASIS "AP_FNV_BASIS"
    const uint64_t FNV_PRIME "AP_FNV_PRIME"


ctypedef struct PrefixSlot:
    uint64_t h          # FNV-1a of the stem's code points
    Py_ssize_t length   # stem length (code points)
    PyObject* stem      # NULL: empty slot. Owned by _PrefixTable.stems
    APRef rules         # the rules with this stem


cdef inline uint64_t _fnv_step(uint64_t h, Py_UCS4 c) noexcept nogil:
    return (h ^ <uint64_t>c) * FNV_PRIME


cdef inline Py_ssize_t _slot_of(uint64_t h, Py_ssize_t mask) noexcept nogil:
    # FNV's low bits are weak for short keys; fold the high half in.
    return <Py_ssize_t>((h ^ (h >> 29) ^ (h >> 47)) & <uint64_t>mask)


cdef uint64_t _fnv(str s, Py_ssize_t length) except? 0:
    cdef uint64_t h = FNV_BASIS
    cdef Py_ssize_t i
    PyUnicode_READY(s)
    cdef int kind = PyUnicode_KIND(s)
    cdef void* data = PyUnicode_DATA(s)
    for i in range(length):
        h = _fnv_step(h, PyUnicode_READ(kind, data, i))
    return h


cdef class _PrefixTable:
    cdef PrefixSlot* slots
    cdef Py_ssize_t mask
    cdef unsigned char* is_len  # is_len[L]: some stem has length L
    cdef Py_ssize_t max_len     # 0: no stems
    cdef list stems             # owns the stems the slots point to

    def __cinit__(self, _StrMap stems):
        """From the stems, their sets of rules placed (see _Layout)."""
        cdef Py_ssize_t k, s, size = 4
        cdef uint64_t h
        self.stems = stems.keys
        self.max_len = max([len(stem) for stem in self.stems], default=0)
        while size < 2 * len(self.stems):
            size *= 2
        self.slots = <PrefixSlot*>calloc(<size_t>size, sizeof(PrefixSlot))
        self.is_len = <unsigned char*>calloc(<size_t>(self.max_len + 1), 1)
        if self.slots == NULL or self.is_len == NULL:
            raise MemoryError()
        self.mask = size - 1
        for stem in self.stems:
            k = len(stem)
            h = _fnv(stem, k)
            s = _slot_of(h, self.mask)
            while self.slots[s].stem != NULL:
                s = (s + 1) & self.mask
            self.slots[s].h = h
            self.slots[s].length = k
            self.slots[s].stem = <PyObject*>stem
            self.slots[s].rules = _find(stems, <PyObject*>stem)[0]
            self.is_len[k] = 1

    def __dealloc__(self):
        free(self.slots)
        free(self.is_len)

    cdef void hits(self, Sets* s, str path) noexcept:
        """Add the rules with a stem path starts with to the field being gathered."""
        cdef int kind = PyUnicode_KIND(path)
        cdef void* data = PyUnicode_DATA(path)
        cdef Py_ssize_t plen = PyUnicode_GET_LENGTH(path), i, slot_index
        cdef Py_ssize_t end = plen if plen < self.max_len else self.max_len
        cdef uint64_t h = FNV_BASIS
        cdef PrefixSlot* slot
        for i in range(end):
            h = _fnv_step(h, PyUnicode_READ(kind, data, i))
            if not self.is_len[i + 1]:
                continue
            slot_index = _slot_of(h, self.mask)
            while True:
                slot = &self.slots[slot_index]
                if slot.stem == NULL:
                    break
                # Stems are distinct, so at most one matches per length.
                if slot.h == h and slot.length == i + 1:
                    if PyUnicode_Tailmatch(path, slot.stem, 0, i + 1, -1):
                        _add_set(s, &slot.rules)
                        break
                slot_index = (slot_index + 1) & self.mask
