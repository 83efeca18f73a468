"""Detector tests (package so that module names stay unique across tests/)."""
