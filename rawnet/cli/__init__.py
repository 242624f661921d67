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


# command name -> module in rawnet.cli that registers it; a command is imported only when used,
# so `rawnet sockets` does not pay for the codec or numpy. Unknown names load every module.
_MODULES = ("packet_cmds", "pcap_cmds", "sockets_cmds", "diag_cmds")
_LAZY = {
    "decode": "packet_cmds", "build": "packet_cmds", "pcap": "pcap_cmds", "sockets": "sockets_cmds",
    "watch": "sockets_cmds", "probe": "diag_cmds", "ping": "diag_cmds", "traceroute": "diag_cmds",
    "handshake": "diag_cmds", "doctor": "diag_cmds", "capture": "diag_cmds",
}


class _LazyGroup(click.Group):
    """A click group whose commands are imported from their modules on first use."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._loaded: set[str] = set()

    def _load(self, module: str) -> None:
        if module in self._loaded:
            return
        self._loaded.add(module)
        import importlib

        try:
            mod = importlib.import_module(f"{__name__}.{module}")
        except ModuleNotFoundError as err:
            if err.name == f"{__name__}.{module}":
                return
            raise
        mod.register(self)

    def invoke(self, ctx: click.Context) -> object:
        """Run the command; a RawnetError prints ``rawnet: error: ...`` and exits with its code."""
        try:
            return super().invoke(ctx)
        except RawnetError as err:
            click.echo(f"rawnet: error: {err}", err=True)
            ctx.exit(err.exit_code)
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as err:
            click.echo(f"rawnet: error: cannot open {err.filename}: {err.strerror}", err=True)
            ctx.exit(66)
        except BrokenPipeError:
            raise
        except OSError as err:
            if err.filename is None:
                raise
            click.echo(f"rawnet: error: {err.filename}: {err.strerror}", err=True)
            ctx.exit(74)

    def list_commands(self, ctx: click.Context) -> list[str]:
        for module in _MODULES:
            self._load(module)
        return sorted(self.commands)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in self.commands:
            module = _LAZY.get(cmd_name)
            if module is not None:
                self._load(module)
            if cmd_name not in self.commands:
                for m in _MODULES:
                    self._load(m)
        return self.commands.get(cmd_name)


@click.group(cls=_LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(package_name="rawnet")
@click.option("-v", "--verbose", count=True, help="log more (repeat for debug)")
def cli(verbose: int) -> None:
    """rawnet: craft, parse, capture and explain packets, TCP connections and sockets."""
    level = logging.WARNING if verbose == 0 else logging.INFO if verbose == 1 else logging.DEBUG
    logging.basicConfig(level=level, format="rawnet: %(levelname)s: %(message)s", stream=sys.stderr)


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
