"""``iris play``: a pygame viewer and recorder for the agent, the world model and saved episodes.

sources.py / episodes.py make ``View``s (view.py); render.py draws one; app.py shows them in a
window, headless.py and recording.py write them as MP4; session.py builds a source from the CLI's
path and mode. pygame is imported only by app.py, so headless runs do not need it.
"""
