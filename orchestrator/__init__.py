"""Delivery orchestrator: takes a customer platform through a seven-phase delivery."""

__version__ = "0.1.0"
