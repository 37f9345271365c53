# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
#
# One compiled pass over an audit event's bytes: find its top-level members and
# the fields the policy reads, then (``render``) splice the output from spans of
# the input. No Python object is made per member: the spans live in C arrays.
#
# The readable reference is pipeline/events.py (msgspec into dict[str, Raw]),
# pipeline/levels.py and pipeline/enrich.py; tests/test_scan_differential.py
# shows the two give byte-identical output. ``scan`` is conservative: it
# returns None for anything it does not handle exactly as the reference would
# (invalid UTF-8, an escape in a key, a duplicate key, a value of an unexpected
# type, nesting deeper than MAX_DEPTH, anything that is not strict JSON, more
# than MAX_MEMBERS members), and the caller then takes the reference path, so
# errors and their messages always come from one place.
#
# JSON is validated as strictly as msgspec does it (RFC 8259; lone surrogate
# escapes refused), so a record the reference would reject never passes here.
#
# This file: the JSON walk (strings sixteen bytes at a time with SSE2, eight without, containers with a
# bracket stack) and the member spans. Included, split only to keep each file
# readable:
#   _scan_splice.pxi   copying spans into compact output; the managed-fields cut
#   _scan_event.pxi    ScannedEvent: what a scan found, and render()
#   _scan_reader.pxi   Scanner: scan() and scan_many(), the head fields, caches

cimport cython
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.unicode cimport PyUnicode_DecodeUTF8
from libc.stdint cimport int32_t, uint64_t
from libc.string cimport memcmp, memcpy

ctypedef unsigned char uchar

cdef extern from *:
    int __builtin_ctzll(unsigned long long x) nogil

cdef extern from *:
    """
    /* Sixteen bytes at a time where SSE2 is there (every x86-64): a bit per byte
       that is a quote, a backslash, a control character or not ASCII. One signed
       compare covers the last two: bytes >= 0x80 are negative. Elsewhere the
       eight-byte SWAR test below does the same work, and AP_HAVE_SSE2 is 0. */
    #if defined(__SSE2__)
    #include <emmintrin.h>
    #define AP_HAVE_SSE2 1
    static inline unsigned int ap_special16(const unsigned char *p) {
        __m128i x = _mm_loadu_si128((const __m128i *)p);
        __m128i hit = _mm_or_si128(
            _mm_or_si128(_mm_cmpeq_epi8(x, _mm_set1_epi8(0x22)), _mm_cmpeq_epi8(x, _mm_set1_epi8(0x5C))),
            _mm_cmplt_epi8(x, _mm_set1_epi8(0x20)));
        return (unsigned int)_mm_movemask_epi8(hit);
    }
    #else
    #define AP_HAVE_SSE2 0
    static inline unsigned int ap_special16(const unsigned char *p) { (void)p; return 0xFFFFu; }
    #endif
    """
    enum: AP_HAVE_SSE2
    # Bit k set: p[k] (0 <= k < 16) is a quote, backslash, control byte or >= 0x80.
    unsigned int ap_special16(const unsigned char* p) noexcept nogil

cdef enum:
    MAX_MEMBERS = 64
    MAX_DEPTH = 64
    MAX_GROUPS = 64

# Ranks, as pipeline.model: None, Metadata, Request, RequestResponse.
cdef tuple LEVEL_NAMES = ("None", "Metadata", "Request", "RequestResponse")
cdef tuple LEVEL_RAW = (b'"None"', b'"Metadata"', b'"Request"', b'"RequestResponse"')
cdef tuple STAGE_NAMES = ("RequestReceived", "ResponseStarted", "ResponseComplete", "Panic")
cdef tuple STAGE_RAW = (b'"RequestReceived"', b'"ResponseStarted"', b'"ResponseComplete"', b'"Panic"')
cdef bytes KIND_EVENT = b'"Event"'


cdef inline bint _ws(uchar c) noexcept:
    # Events are mostly compact JSON: one compare settles the usual byte.
    return c <= 32 and (c == 32 or c == 10 or c == 13 or c == 9)


cdef inline Py_ssize_t _skip_ws(const uchar* p, Py_ssize_t i, Py_ssize_t n) noexcept:
    while i < n and _ws(p[i]):
        i += 1
    return i


cdef inline int _hex(uchar c) noexcept:
    if 48 <= c <= 57:
        return c - 48
    if 97 <= c <= 102:
        return c - 87
    if 65 <= c <= 70:
        return c - 55
    return -1


cdef inline uint64_t _special8(uint64_t x) noexcept:
    """Non-zero when one of the 8 bytes in ``x`` is a quote, a backslash, a control character or
    not ASCII (the start or part of a UTF-8 sequence, which is then checked byte by byte).

    The classic "has a zero byte" test, three times. It can flag a byte after a real hit
    (a borrow), never miss one: a hit only sends the caller to its byte-wise loop.
    """
    cdef uint64_t ones = 0x0101010101010101ULL
    cdef uint64_t quote = x ^ (ones * 0x22)
    cdef uint64_t backslash = x ^ (ones * 0x5C)
    return (((quote - ones) & ~quote) | ((backslash - ones) & ~backslash) | ((x - ones * 0x20) & ~x) | x) & (ones * 0x80)


cdef int _utf8_length(const uchar* p, Py_ssize_t i, Py_ssize_t n) noexcept:
    """The length of the UTF-8 sequence at p[i] (a byte >= 0x80), or -1 if it is not valid
    UTF-8 (RFC 3629: no overlong forms, no surrogates, nothing past U+10FFFF)."""
    cdef uchar c = p[i]
    cdef int length, k
    cdef uchar lo = 0x80, hi = 0xBF  # the range of the second byte
    if 0xC2 <= c <= 0xDF:
        length = 2
    elif 0xE0 <= c <= 0xEF:
        length = 3
        if c == 0xE0:
            lo = 0xA0
        elif c == 0xED:
            hi = 0x9F
    elif 0xF0 <= c <= 0xF4:
        length = 4
        if c == 0xF0:
            lo = 0x90
        elif c == 0xF4:
            hi = 0x8F
    else:
        return -1
    if i + length > n or not (lo <= p[i + 1] <= hi):
        return -1
    for k in range(2, length):
        if not (0x80 <= p[i + k] <= 0xBF):
            return -1
    return length


cdef inline Py_ssize_t _string_end(const uchar* p, Py_ssize_t i, Py_ssize_t n, bint* escaped) noexcept:
    """p[i] is a quote: the index after the closing one, or -1 if not a strict JSON string."""
    cdef uchar c
    cdef int k, d, code
    cdef uint64_t word, mask
    i += 1
    while True:
        # Sixteen (or eight) bytes at a time through the plain part of the string, then
        # straight to the first special byte (the lowest flagged one is always a true hit).
        if AP_HAVE_SSE2 and i + 16 <= n:
            mask = ap_special16(p + i)
            if mask == 0:
                i += 16
                continue
            i += __builtin_ctzll(mask)
        elif i + 8 <= n:
            memcpy(&word, p + i, 8)
            mask = _special8(word)
            if mask == 0:
                i += 8
                continue
            i += __builtin_ctzll(mask) >> 3
        elif i >= n:
            return -1
        c = p[i]
        if c == 34:  # "
            return i + 1
        if c == 92:  # backslash
            escaped[0] = True
            i += 1
            if i >= n:
                return -1
            c = p[i]
            if c == 117:  # \uXXXX
                if i + 4 >= n:
                    return -1
                code = 0
                for k in range(1, 5):
                    d = _hex(p[i + k])
                    if d < 0:
                        return -1
                    code = code * 16 + d
                # Surrogate escapes: msgspec refuses lone ones, and pairs are rare
                # enough to leave to the reference path.
                if 0xD800 <= code <= 0xDFFF:
                    return -1
                i += 5
                continue
            if c == 34 or c == 92 or c == 47 or c == 98 or c == 102 or c == 110 or c == 114 or c == 116:
                i += 1
                continue
            return -1
        if c >= 128:  # UTF-8, checked as strictly as Python's decoder (the reference's check)
            k = _utf8_length(p, i, n)
            if k < 0:
                return -1
            i += k
            continue
        if c < 32:
            return -1
        i += 1


cdef Py_ssize_t _number_end(const uchar* p, Py_ssize_t i, Py_ssize_t n) noexcept:
    cdef Py_ssize_t start
    if p[i] == 45:  # -
        i += 1
    if i >= n:
        return -1
    if p[i] == 48:  # 0
        i += 1
    elif 49 <= p[i] <= 57:
        while i < n and 48 <= p[i] <= 57:
            i += 1
    else:
        return -1
    if i < n and p[i] == 46:  # .
        i += 1
        start = i
        while i < n and 48 <= p[i] <= 57:
            i += 1
        if i == start:
            return -1
    if i < n and (p[i] == 101 or p[i] == 69):  # e E
        i += 1
        if i < n and (p[i] == 43 or p[i] == 45):
            i += 1
        start = i
        while i < n and 48 <= p[i] <= 57:
            i += 1
        if i == start:
            return -1
    return i


cdef inline Py_ssize_t _key_end(const uchar* p, Py_ssize_t i, Py_ssize_t n) noexcept:
    """p[i] should start an object's key: the index of the value after its colon, or -1."""
    cdef bint escaped = False
    if p[i] != 34:
        return -1
    i = _string_end(p, i, n, &escaped)
    if i < 0:
        return -1
    i = _skip_ws(p, i, n)
    if i >= n or p[i] != 58:  # :
        return -1
    i = _skip_ws(p, i + 1, n)
    return i if i < n else -1


cdef Py_ssize_t _value_end(const uchar* p, Py_ssize_t i, Py_ssize_t n, int depth) noexcept:
    """p[i] (i < n) starts a value: the index after it, or -1 if it is not strict JSON.

    One loop with a stack of the closing brackets still due, no recursion: the
    bodies (managed fields above all) are many small nested objects. ``depth`` is
    how deep the value sits; nesting past MAX_DEPTH is left to the reference.
    """
    cdef uchar closers[MAX_DEPTH]
    cdef int top = 0
    cdef uchar c
    cdef bint escaped = False
    while True:
        c = p[i]  # i < n: a value starts here
        if c == 34:
            i = _string_end(p, i, n, &escaped)
        elif c == 123 or c == 91:  # { [
            if depth + top >= MAX_DEPTH:
                return -1
            closers[top] = c + 2  # } is { + 2, ] is [ + 2
            top += 1
            i = _skip_ws(p, i + 1, n)
            if i >= n:
                return -1
            if p[i] == c + 2:  # empty
                i += 1
                top -= 1
            elif c == 123:
                i = _key_end(p, i, n)
                if i < 0:
                    return -1
                continue
            else:
                continue
        elif c == 116:
            i = i + 4 if i + 4 <= n and memcmp(p + i, b"true", 4) == 0 else -1
        elif c == 102:
            i = i + 5 if i + 5 <= n and memcmp(p + i, b"false", 5) == 0 else -1
        elif c == 110:
            i = i + 4 if i + 4 <= n and memcmp(p + i, b"null", 4) == 0 else -1
        elif c == 45 or 48 <= c <= 57:
            i = _number_end(p, i, n)
        else:
            return -1
        if i < 0:
            return -1
        # After a value: close what ends here, up to the next value (or the end of this one).
        while True:
            if top == 0:
                return i
            i = _skip_ws(p, i, n)
            if i >= n:
                return -1
            c = p[i]
            if c == 44:  # ,
                i = _skip_ws(p, i + 1, n)
                if i >= n:
                    return -1
                if closers[top - 1] == 125:
                    i = _key_end(p, i, n)
                    if i < 0:
                        return -1
                break
            if c == closers[top - 1]:
                i += 1
                top -= 1
                continue
            return -1


ctypedef struct Members:
    int count
    int32_t key[MAX_MEMBERS]    # the key's opening quote
    int32_t colon[MAX_MEMBERS]  # its closing quote + 1
    int32_t start[MAX_MEMBERS]  # the value
    int32_t end[MAX_MEMBERS]


cdef Py_ssize_t _members(const uchar* p, Py_ssize_t i, Py_ssize_t n, Members* m, int depth) noexcept:
    """Spans of the members of the object at p[i]: the index after it, or -1 (not handled here).

    Keys must hold no escape and appear once: the reference keeps the last of
    duplicates and re-encodes escaped keys, which is left to it.
    """
    cdef bint escaped = False
    cdef Py_ssize_t k_end, j
    cdef int c, count = 0
    m.count = 0
    i = _skip_ws(p, i + 1, n)
    if i < n and p[i] == 125:
        return i + 1
    while i < n:
        if p[i] != 34 or count >= MAX_MEMBERS:
            return -1
        k_end = _string_end(p, i, n, &escaped)
        if k_end < 0 or escaped:
            return -1
        for c in range(count):
            j = m.colon[c] - m.key[c]
            if j == k_end - i and memcmp(p + m.key[c], p + i, j) == 0:
                return -1
        m.key[count] = <int32_t>i
        m.colon[count] = <int32_t>k_end
        i = _skip_ws(p, k_end, n)
        if i >= n or p[i] != 58:
            return -1
        i = _skip_ws(p, i + 1, n)
        if i >= n:
            return -1
        m.start[count] = <int32_t>i
        i = _value_end(p, i, n, depth)
        if i < 0:
            return -1
        m.end[count] = <int32_t>i
        count += 1
        i = _skip_ws(p, i, n)
        if i >= n:
            return -1
        if p[i] == 125:
            m.count = count
            return i + 1
        if p[i] != 44:
            return -1
        i = _skip_ws(p, i + 1, n)
    return -1


cdef inline bint _key_is(const uchar* p, const Members* m, int c, const char* name, int length) noexcept:
    return m.colon[c] - m.key[c] == length + 2 and memcmp(p + m.key[c] + 1, name, length) == 0


cdef inline bint _is_string(const uchar* p, const Members* m, int c) noexcept:
    return p[m.start[c]] == 34


include "_scan_splice.pxi"
include "_scan_event.pxi"
include "_scan_reader.pxi"



def split_lines(bytes chunk):
    """``chunk.split(b"\\n")``, found with memchr: bytes.split tests every byte in a loop
    of its own, which cost almost as much as the scan of the events themselves in ``filter``."""
    cdef const char* p = PyBytes_AS_STRING(chunk)
    cdef Py_ssize_t n = PyBytes_GET_SIZE(chunk), i = 0, j
    cdef const char* newline
    cdef list out = []
    while True:
        newline = <const char*>memchr(p + i, 10, <size_t>(n - i))
        if newline == NULL:
            out.append(PyBytes_FromStringAndSize(p + i, n - i))
            return out
        j = newline - p
        out.append(PyBytes_FromStringAndSize(p + i, j - i))
        i = j + 1
