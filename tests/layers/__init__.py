"""Tests of dockyard.layers: the layer codec (apply, create, snapshot, export)."""
