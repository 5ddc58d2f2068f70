"""The one exception type for failures a user can fix.

Its message names the problem and the fix; the CLI prints it as one line and exits with code 2.
Internal invariants use ``assert`` instead.
"""


class IrisError(Exception):
    """A user-facing error: bad input, a missing file, an unusable checkpoint."""


class IrisValueError(IrisError, ValueError):
    """A bad argument to a Python call: a ``ValueError`` to Python code, one line to the CLI."""


def describe_os_error(error: OSError) -> str:
    """One line for a filesystem failure: what failed, on which path, and what to check."""
    path = f" ({error.filename})" if error.filename else ""
    return (f"{error.strerror or error}{path}; check that the path exists, is a folder where one is expected, "
            f"is writable and has free space")
