"""Tests of the Engine HTTP API daemon through the docker CLI, raw requests and docker-py."""
