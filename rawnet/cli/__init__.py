"""The ``rawnet`` command: one click group; each command parses arguments, calls one library
function and renders. The only error handler lives here: a RawnetError prints
``rawnet: error: <message>`` to stderr and exits with its ``exit_code``; only a bug shows a traceback (exit 70).
"""

from __future__ import annotations

import logging
import sys
import traceback

import click

from ..errors import RawnetError

__all__ = ["main", "cli"]


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="rawnet")
@click.option("-v", "--verbose", count=True, help="log more (repeat for debug)")
def cli(verbose: int) -> None:
    """rawnet: craft, parse, capture and explain packets, TCP connections and sockets."""
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    logging.basicConfig(level=level, format="rawnet: %(levelname)s: %(message)s", stream=sys.stderr)


def _register() -> None:
    """Attach every command module's commands to the group (one line per module)."""
    from . import packet_cmds

    packet_cmds.register(cli)
    from . import sockets_cmds; sockets_cmds.register(cli)  # noqa: E702
    from . import pcap_cmds; pcap_cmds.register(cli)  # noqa: E702
    from . import diag_cmds; diag_cmds.register(cli)  # noqa: E702


_register()


def main(argv: list[str] | None = None) -> None:
    """Run the command line and exit with its status."""
    try:
        rv = cli.main(args=argv, prog_name="rawnet", standalone_mode=False)
    except RawnetError as err:
        click.echo(f"rawnet: error: {err}", err=True)
        sys.exit(err.exit_code)
    except click.exceptions.Abort:
        click.echo("rawnet: interrupted", err=True)
        sys.exit(130)
    except click.ClickException as err:
        err.show()
        sys.exit(err.exit_code)
    except click.exceptions.Exit as err:
        sys.exit(err.exit_code)
    except BrokenPipeError:
        sys.stderr.close()
        sys.exit(0)
    except KeyboardInterrupt:
        click.echo("rawnet: interrupted", err=True)
        sys.exit(130)
    except Exception:  # a bug: show it
        traceback.print_exc()
        click.echo("rawnet: internal error (a bug; please report it with the traceback above)", err=True)
        sys.exit(70)
    sys.exit(rv if isinstance(rv, int) else 0)
