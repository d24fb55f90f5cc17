"""Tests of the development tools: offline base images and the README demo."""
