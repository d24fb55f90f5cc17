"""Development tools, not part of the engine: nothing in dockyard imports them.

- ``baseimages``: builds the offline busybox and debian base images the tests,
  the bench and the demo use (``python -m dockyard.devtools.baseimages``).
- ``demo``: the README's walk through the tutorial (``python -m dockyard.devtools.demo``).
"""
