"""Tests of the shape of the code: the import contract and private names."""
