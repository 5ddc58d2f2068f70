"""Scores of any environment: score files, their statistics (means, aggregates, bootstrap intervals),
the report of mean returns per env, and what every family's report hands ``iris report``.

It sits below the environment families, so that each family's own report (Atari 100k's human-normalised
aggregates, Crafter's success rates) is built from the same pieces."""
