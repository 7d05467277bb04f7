"""Exit codes of `agent-tracing` (SPEC 6) and the error that means bad usage."""

EXIT_OK = 0
EXIT_CHECK_FAILED = 1
EXIT_USAGE = 2


class UsageError(Exception):
    """Bad usage or unreadable input: exit 2 with this one-line message."""
