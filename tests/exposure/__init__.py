"""Exposure tests."""
