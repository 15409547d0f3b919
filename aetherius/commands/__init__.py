"""One module per `aetherius` subcommand; see aetherius/cli.py."""
