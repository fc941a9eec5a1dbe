"""Faust agents for the worker's low-volume topics."""
