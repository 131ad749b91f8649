"""Helpers of the command-line tests: run the CLI in-process and read its two kinds of errors."""

from __future__ import annotations

import re

from dynamiccity.cli.main import main

USAGE = 2
"""Exit status of a usage error (click): a missing or unknown option, a value the option refuses."""
BAD_INPUT = 1
"""Exit status of bad input (`dynamiccity.cli.main.main`): a one-line `error: ...` on stderr."""


def run(argv, capsys) -> tuple[int, str, str]:
    """(exit status, stdout, stderr) of `dynamiccity ARGV`, in-process."""
    try:
        main([str(a) for a in argv])
        code = 0
    except SystemExit as exit_:
        code = exit_.code or 0
    out = capsys.readouterr()
    return code, out.out, out.err


def help_text(argv, capsys, monkeypatch) -> str:
    """What `dynamiccity ARGV --help` prints (status 0, nothing on stderr), on a terminal wide enough that no
    option name is cut short."""
    monkeypatch.setenv("COLUMNS", "200")
    code, out, err = run([*argv, "--help"], capsys)
    assert (code, err) == (0, "")
    assert f"Usage: dynamiccity {' '.join(argv)} [OPTIONS]" in out
    return out


def one_line_error(code: int, out: str, err: str) -> str:
    """The message of a bad-input failure, checked to be its only output: status 1, nothing on stdout, one
    line on stderr beginning with 'error: '."""
    assert (code, out) == (BAD_INPUT, ""), (code, out, err)
    (line,) = err.splitlines()
    assert line.startswith("error: ")
    return line.removeprefix("error: ")


def usage_error(code: int, out: str, err: str) -> str:
    """The message of a usage error (status 2, nothing on stdout) as one line: click's box and the line
    breaks of its wrapping undone."""
    assert (code, out) == (USAGE, ""), (code, out, err)
    return " ".join(re.sub("[│╭╮╰╯─]", " ", err).split())
