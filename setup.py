"""The optional C extension; everything else about the package is in pyproject.toml.

`optional=True`: without a compiler (or Python headers) `pip install` still succeeds, and the
receiver reads spans through upb and Python instead (flowhealth.traces.records), and spans are
folded into journeys by flowhealth.traces.fold_py.
"""

from setuptools import Extension, setup

setup(
    ext_modules=[
        Extension(
            "flowhealth.traces._spans",
            ["src/flowhealth/traces/_spans.c"],
            optional=True,
            extra_compile_args=["-O2", "-std=c11", "-Wall", "-Wextra", "-Wno-missing-field-initializers"],
        ),
        Extension(
            "flowhealth.traces._fold",
            ["src/flowhealth/traces/_fold.c"],
            optional=True,
            extra_compile_args=["-O2", "-std=c11", "-Wall", "-Wextra", "-Wno-missing-field-initializers"],
        ),
    ]
)
