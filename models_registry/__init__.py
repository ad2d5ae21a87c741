"""The model registry: the catalog of LLMs the chat app offers.

Reads go through :mod:`models_registry.registry`; writes through
:mod:`models_registry.catalog.services`.
"""
