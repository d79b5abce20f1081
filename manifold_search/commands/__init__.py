"""Subcommands of ``manifold-search`` for studies: ``run``, ``report`` and ``explore``.

Each module defines ``add_parser(subparsers)`` and is listed in
:data:`manifold_search.cli.COMMAND_MODULES`.
"""
