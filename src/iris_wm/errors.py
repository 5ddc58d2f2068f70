"""The one exception type for failures a user can fix.

Its message names the problem and the fix; the CLI prints it as one line and exits with code 2.
Internal invariants use ``assert`` instead.
"""


class IrisError(Exception):
    """A user-facing error: bad input, a missing file, an unusable checkpoint."""
