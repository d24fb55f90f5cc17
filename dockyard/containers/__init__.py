"""Container verbs (create, start, stop, ps, logs, commit, cp, ...) returning data, not text.

Callers use them through engine.containers (dockyard/engine/containers.py)."""
