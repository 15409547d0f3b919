"""Event contracts: every record that crosses a process boundary is one of these models.

Nothing here does I/O. `streams`, `agents` and `sinks` import from here; never the other way round.
"""
