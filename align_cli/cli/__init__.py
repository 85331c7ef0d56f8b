"""The ``xalign`` command line: a thin Click layer over the Python API.

Each sub-command lives in its own module next to this one and only parses options, calls
the API and prints. Errors a user can cause arrive as :class:`~align_cli.errors.XalignError`
and are printed as one line on stderr with exit code 2, never as a traceback.
"""

from __future__ import annotations

import importlib
import sys

import click

from align_cli.errors import XalignError
from align_cli.version import __version__

# Command name -> "module:function" in this package. A command's module is imported only
# when that command runs (or its help is shown), so `xalign eval` never pays for torch.
COMMANDS = {
    "extract": "extract_cmd:extract",
    "eval": "eval_cmd:eval_command",
    "symmetrize": "symmetrize_cmd:symmetrize_command",
    "convert": "convert_cmd:convert",
    "show": "show_cmd:show_command",
    "sweep": "sweep_cmd:sweep_command",
    "models": "models_cmd:models_command",
}


class LazyGroup(click.Group):
    """A group whose commands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        module_name, attribute = COMMANDS[cmd_name].split(":")
        module = importlib.import_module(f"{__name__}.{module_name}")
        return getattr(module, attribute)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="xalign")
def cli() -> None:
    """Word alignments from translation models and multilingual encoders."""


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
