"""Tests of the bottom modules: datarecord, oci types, references."""
