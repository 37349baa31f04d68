"""Adapters: ports named by capability, implementations named by technology.

Vendor errors are translated at this edge into ``orchestrator.engine.errors``.
"""
