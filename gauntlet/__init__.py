"""Gauntlet: an end-to-end acceptance suite for cloud and distributed infrastructure."""
