"""Tests of dockyard.cli: output formats, templates, start-up, the tutorial through the CLI."""
