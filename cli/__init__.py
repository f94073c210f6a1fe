"""The `zcd` command: run the local stack or one of its parts, migrate, manage keys, the demo."""
