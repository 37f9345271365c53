"""Build the Cython matcher. All metadata lives in pyproject.toml.

AUDITPIPE_NO_EXTENSIONS=1 skips the extension (the pure-Python twin is used).
"""

import os

from setuptools import Extension, setup

ext_modules = []
if not os.environ.get("AUDITPIPE_NO_EXTENSIONS"):
    from Cython.Build import cythonize

    ext_modules = cythonize(
        [
            Extension(
                "_fastmatch._matcher_c",
                ["_fastmatch/_matcher_c.pyx"],
                # -O3: the loops over words that are not written as vectors are vectorised
                # too (at -O2, GCC 12 does only the cheapest). The .pxi files are included by the .pyx.
                extra_compile_args=["-O3"],
            ),
            # The one-pass event scanner and splice (its .pxi is included by the .pyx).
            Extension("_fastmatch._scan", ["_fastmatch/_scan.pyx"], extra_compile_args=["-O3"]),
            # Kafka's murmur2 key partitioning, as aiokafka's partitioner (in Python) computes it.
            Extension("_fastmatch._partition", ["_fastmatch/_partition.pyx"], extra_compile_args=["-O3"]),
        ],
        compiler_directives={
            "language_level": "3",
            "boundscheck": False,
            "wraparound": False,
            "cdivision": True,
        },
    )

setup(ext_modules=ext_modules)
