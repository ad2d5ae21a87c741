"""Usage analytics: what the chat app's model calls cost, recorded once each, and their rollups."""
