"""Container verbs (create, start, stop, ps, logs, commit, cp, ...) returning data, not text.

``create`` and ``record`` make and hold a container; ``lifecycle`` starts, stops,
signals and waits; ``spawn`` forks ``monitor``, the process that supervises one
container (runtime, stdio, logs, attach sockets, --rm); ``execute``, ``copy``,
``export``, ``diff``, ``commit``, ``inspect``, ``listing``, ``names``, ``hostconfig``.
Callers use them through engine.containers (dockyard/engine/containers.py).
"""
