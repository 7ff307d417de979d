"""The test suite; shared helpers live in tests.fixtures (see tests/README.md)."""
