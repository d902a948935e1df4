"""The exactly-once batch consumer: effects, de-duplication and offsets in one transaction."""
