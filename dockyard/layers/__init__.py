"""The tar layer codec: apply a layer onto a directory, diff a directory into a layer.

Submodules are imported on demand (``dockyard.layers.apply`` loads libarchive):
the CLI must stay quick to start.
"""
