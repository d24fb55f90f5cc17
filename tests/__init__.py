"""dockyard's test suite, grouped by the package each test covers; fixtures live in conftest.py files."""
