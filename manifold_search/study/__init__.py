"""The study layer: a study config in, a resumable Optuna study, its report and explore page out.

Modules, one idea each, imported in this order (each only imports those above it):

* ``storage``  the one error base class, file names, opening storages and studies
* ``config``   the TOML study config, validated; paths relative to the config's folder
* ``plan``     a config plus command-line overrides: what to run
* ``workers``  the trial loop, worker processes, stale-trial recovery
* ``runner``   run or resume a study to its target, with a progress bar
* ``locate``   find a study from an output directory or a config file
* ``data``     what report and explore show: trials, manifold layout, baselines
* ``plots``    the report's PNGs
* ``report``   report.md
* ``explore``  the interactive HTML page (its template is ``explore.html``)

Importing this package imports nothing heavy; the modules import Optuna, and the
plots and the manifold (torch, PHATE) are imported where they are drawn.
"""
