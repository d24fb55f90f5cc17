"""Tests of where images live: the store through import/load/save, docker-archive, OCI layout."""
