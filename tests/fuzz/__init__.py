"""A property-based fuzz of the whole public API over the real stack (issue 10)."""
