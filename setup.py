"""The compiled modules (everything else is in pyproject.toml): tracing/_speedups.c (a traced stream's per-chunk loop
and its fold's per-event checks, a text's JSON string literal, the plain JSON walk and writer, a retriever's plain
rows) and exporters/_otlp_speedups.c (a span's attributes as OTLP protobuf fields). Optional: without a C compiler
the package installs all the same and tracing._decorator, tracing._stream, tracing._serialize, tracing._retriever and
exporters._otlp use their Python versions (setuptools' ext-modules in pyproject.toml is still experimental)."""

from setuptools import Extension, setup

setup(ext_modules=[
    Extension("tracing._speedups", sources=["tracing/_speedups.c"], optional=True),
    Extension("exporters._otlp_speedups", sources=["exporters/_otlp_speedups.c"], optional=True),
])
