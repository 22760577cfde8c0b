"""Exit codes and the one error type of the command line.

Every failure becomes a `CliError` with a one-line message for standard error and an exit code
that scripts can branch on (the codes are part of the interface, documented in `skiff --help`).
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2  # what Click uses for bad arguments, kept for our own usage errors
EXIT_NOT_FOUND = 3
EXIT_PERMISSION = 4
EXIT_UNAVAILABLE = 5  # the cell (or the console) cannot serve the request now


class CliError(Exception):
    def __init__(self, message: str, *, exit_code: int = EXIT_ERROR) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code


def exit_code_for_status(status: int) -> int:
    if status == 404:
        return EXIT_NOT_FOUND
    if status in (401, 403):
        return EXIT_PERMISSION
    if status in (502, 503, 504):
        return EXIT_UNAVAILABLE
    return EXIT_ERROR
