"""Atari 100k as an environment family (``env=atari``, the default): the paper's wrapper stack
(``env``), ale-py's native vector backend (``native``), the family's record (``kind``) and its
presets. Importing the package imports nothing of ale-py; ``kind`` does."""
