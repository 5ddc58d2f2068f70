"""iris-wm's Hydra launcher over Ray (``hydra/launcher=iris_ray``), used by ``iris benchmark
--launcher ray``. Hydra finds launchers in the ``hydra_plugins`` namespace package only."""
