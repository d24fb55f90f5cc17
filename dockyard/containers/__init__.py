"""Container verbs (create, start, stop, ps, logs, commit, ...) returning data, not text."""
