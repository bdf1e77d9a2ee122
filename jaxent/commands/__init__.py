"""Sub-commands of the ``jaxent`` command line. One module per sub-command, each exposing
``add_parser(subparsers)`` (registers its arguments) and ``run(args)`` (does the work)."""
