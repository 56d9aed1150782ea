"""Thin clients, one per system: domain verbs to API calls. Adapters never assert."""
