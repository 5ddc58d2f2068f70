"""Crafter as an environment family (``env=crafter``): the env (``env``), reproducible episodes
(``determinism``), the Crafter score (``score``), its report and reference runs (``report``, ``data``),
the family's record (``kind``) and its presets. Importing the package imports nothing of crafter;
``env`` and ``kind`` do."""
