"""The ``bort`` command line: one module per subcommand, dispatched by :mod:`bort.cli.main`."""
