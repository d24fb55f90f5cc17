"""Tests of dockyard.runtime's pieces: spec, users, secure join, logs, framing, state."""
