"""The one compiled module (everything else is in pyproject.toml): a traced stream's per-chunk loop and its fold's
per-event checks, a text's JSON string literal, the plain JSON walk and writer, and OTLP attribute fields,
tracing/_speedups.c. Optional: without a C compiler the package installs all the same and tracing._decorator,
tracing._stream, tracing._serialize and exporters._otlp use their Python versions (setuptools' ext-modules in
pyproject.toml is still experimental)."""

from setuptools import Extension, setup

setup(ext_modules=[Extension("tracing._speedups", sources=["tracing/_speedups.c"], optional=True)])
