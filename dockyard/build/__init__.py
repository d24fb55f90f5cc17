"""Dockerfile builds as Docker 20.10's classic builder runs them (docs/build.md)."""
