"""The ``icpbot`` command line: a typer app (``bot.cli.app``), one module per command group.

``bot.cli.entry`` is the console script; it imports the rest late, so this package imports nothing.
"""

__all__: list[str] = []
