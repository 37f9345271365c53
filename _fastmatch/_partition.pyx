# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
#
# Kafka's key partitioning (the Java client's Utils.murmur2, which aiokafka's
# DefaultPartitioner follows in pure Python): every output record is keyed by its
# auditID, and in Python the hash cost a fifth of the service's time when it kept
# every event. aiokafka's aiokafka.partitioner.murmur2 is the specification;
# tests/test_partition.py holds this to it.

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE
from libc.stdint cimport uint32_t


cdef uint32_t _murmur2(const unsigned char* data, Py_ssize_t length) noexcept nogil:
    cdef uint32_t m = 0x5BD1E995
    cdef uint32_t h = <uint32_t>0x9747B28C ^ <uint32_t>length
    cdef uint32_t k
    cdef Py_ssize_t i, tail = length & ~3
    for i in range(0, tail, 4):
        k = data[i] | (<uint32_t>data[i + 1] << 8) | (<uint32_t>data[i + 2] << 16) | (<uint32_t>data[i + 3] << 24)
        k *= m
        k ^= k >> 24
        k *= m
        h *= m
        h ^= k
    if length & 3 >= 3:
        h ^= <uint32_t>data[tail + 2] << 16
    if length & 3 >= 2:
        h ^= <uint32_t>data[tail + 1] << 8
    if length & 3 >= 1:
        h ^= data[tail]
        h *= m
    h ^= h >> 13
    h *= m
    h ^= h >> 15
    return h


def murmur2(bytes key):
    """Kafka's murmur2 of ``key`` (unsigned 32 bits)."""
    return _murmur2(<const unsigned char*>PyBytes_AS_STRING(key), PyBytes_GET_SIZE(key))


def partition_index(bytes key, Py_ssize_t partition_count):
    """Which of ``partition_count`` partitions (sorted) a keyed record goes to, as Kafka's default
    partitioner decides: the hash made positive, modulo the count."""
    cdef uint32_t h = _murmur2(<const unsigned char*>PyBytes_AS_STRING(key), PyBytes_GET_SIZE(key))
    return (h & 0x7FFFFFFF) % partition_count
