"""Tests of the registry client side: login, search, pull and push against real registries."""
