"""Activity definitions: thin, one side effect each, idempotent by business keys."""
