"""Node power control, one class per provider behind one interface (see base.py)."""
