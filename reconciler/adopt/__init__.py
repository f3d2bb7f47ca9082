"""Adopting a primary that runs already: `reconciler import` (importer.py, topology.py)."""
