"""Pure domain helpers shared by several services (no I/O)."""
