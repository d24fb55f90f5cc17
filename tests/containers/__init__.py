"""Tests of containers through the real CLI, runtimes and overlay mounts."""
