"""``iris benchmark``: games x seeds of one agent kind, each run trained and evaluated with the
paper's test protocol, dispatched by a Hydra launcher (one machine, SLURM through submitit, a Ray
cluster), resumable after any stop, and collected into a score file for ``iris report``.

``spec`` is what a sweep asks (its ``benchmark.yaml``), ``launchers`` how its jobs are dispatched,
``job`` what one job does, ``records`` what each run's state is and the sweep's score file.
"""
