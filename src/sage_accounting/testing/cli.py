"""``sage-accounting sandbox``: the click command (the ``[cli]`` extra) behind the CLI's
``sandbox`` subcommand; the same as ``python -m sage_accounting.testing``."""

from __future__ import annotations

import click

from ..cli.exit_codes import EXIT_USAGE
from ..cli.plugin_api import CommandError
from .__main__ import MAX_TOKEN_HOURS, TOKEN_HOURS, busy_port, describe, long_token, serve, wait


@click.command("sandbox")
@click.option(
    "--port",
    type=click.IntRange(0, 65535),
    default=0,
    show_default=True,
    help="Port on 127.0.0.1 (0: any).",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of demo data and ids.")
@click.option("--empty", is_flag=True, help="Start without the demo business data.")
@click.option(
    "--latency", type=click.FloatRange(min=0), default=0.0, help="Seconds added to every API call."
)
@click.option(
    "--contacts", type=click.IntRange(min=0), default=0, help="Extra contacts to add per business."
)
@click.option(
    "--token-hours",
    type=click.FloatRange(min=0, min_open=True, max=MAX_TOKEN_HOURS),
    default=TOKEN_HOURS,
    show_default=True,
    help="Printed token's life.",
)
def sandbox(
    port: int, seed: int, empty: bool, latency: float, contacts: int, token_hours: float
) -> None:
    """Run a local Sage sandbox on 127.0.0.1 and print its base URL and a ready token."""
    try:
        running = serve(port, seed, not empty, latency, contacts)
    except OSError as exc:
        raise CommandError(busy_port(port, exc), EXIT_USAGE) from None
    click.echo(describe(running, long_token(running, token_hours)))
    wait(running)
