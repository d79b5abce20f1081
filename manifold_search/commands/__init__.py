"""Subcommands of ``manifold-search`` for studies: ``run``, ``report`` and ``explore``.

Each module defines ``add_arguments(parser)``, listed in
:data:`manifold_search.registry.COMMANDS`. The modules only parse arguments and
call :mod:`manifold_search.study`, imported when the command runs (so that
``--help`` stays fast).
"""
