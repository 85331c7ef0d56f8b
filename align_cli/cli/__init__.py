"""The ``xalign`` command line: a thin Click layer over the Python API.

Each sub-command lives in its own module next to this one and only parses options, calls
the API and prints. Errors a user can cause arrive as :class:`~align_cli.errors.XalignError`
and are printed as one line on stderr with exit code 2, never as a traceback.
"""

from __future__ import annotations

import sys

import click

from align_cli import __version__
from align_cli.errors import XalignError


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="xalign")
def cli() -> None:
    """Word alignments from translation models and multilingual encoders."""


def _register_commands() -> None:
    # Imported here so that each command module can import `cli` helpers without cycles.
    from align_cli.cli import (
        convert_cmd,
        eval_cmd,
        extract_cmd,
        models_cmd,
        show_cmd,
        sweep_cmd,
        symmetrize_cmd,
    )

    cli.add_command(extract_cmd.extract)
    cli.add_command(eval_cmd.eval_command)
    cli.add_command(symmetrize_cmd.symmetrize_command)
    cli.add_command(convert_cmd.convert)
    cli.add_command(show_cmd.show_command)
    cli.add_command(sweep_cmd.sweep_command)
    cli.add_command(models_cmd.models_command)


_register_commands()


def main(argv: list[str] | None = None) -> None:
    """Console-script entry point: run the group and turn user errors into one line."""
    args = list(sys.argv[1:] if argv is None else argv)
    try:
        # The arguments travel with the context so that an interrupted extract can print
        # the exact command that resumes it.
        cli.main(args=args, prog_name="xalign", standalone_mode=False, obj={"args": args})
    except XalignError as error:
        click.echo(f"xalign: error: {error}", err=True)
        sys.exit(error.exit_code)
    except click.exceptions.Abort:
        click.echo("xalign: aborted", err=True)
        sys.exit(130)
    except click.ClickException as error:
        error.show()
        sys.exit(2 if error.exit_code == 1 else error.exit_code)
    except BrokenPipeError:
        # `xalign extract ... | head` closes our stdout early; that is not an error.
        sys.stderr.close()
        sys.exit(0)
