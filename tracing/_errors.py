"""Failures inside tracing: the pipeline's one registry (`exporters.failures`), as the instrumentation uses it."""

from exporters.failures import error_counts, logger, report, reset_error_counts

__all__ = ["error_counts", "logger", "report", "reset_error_counts"]
