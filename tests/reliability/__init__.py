"""Reliability suites: crash safety, concurrency, hostile input, access control.

Each area has a full run (``python -m tests.reliability.<area> --full``) and a fixed
small subset in ``test_<area>.py`` that runs in the ordinary test suite.
"""
