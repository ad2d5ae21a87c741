"""The auto-router: picks a model for each chat message. Depends on models_registry."""
