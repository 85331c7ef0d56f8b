"""Run the real ``xalign`` entry point in-process and capture exit code, stdout and stderr."""

from __future__ import annotations

from dataclasses import dataclass

from click.testing import CliRunner

from align_cli.cli import main


@dataclass
class CliResult:
    exit_code: int
    stdout: str
    stderr: str


def run_cli(args: list[str], stdin: str | None = None, env: dict | None = None) -> CliResult:
    """Call :func:`align_cli.cli.main` as the console script would, with ``args``."""
    runner = CliRunner()
    code = 0
    with runner.isolation(input=stdin, env=env) as (out, err, _):
        try:
            main([str(arg) for arg in args])
        except SystemExit as exit_:
            code = exit_.code if isinstance(exit_.code, int) else 1
    return CliResult(code, out.getvalue().decode(), err.getvalue().decode())
