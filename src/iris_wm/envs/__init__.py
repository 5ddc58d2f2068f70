"""Environments: Atari (gymnasium + ale-py) and their vectorised forms."""
