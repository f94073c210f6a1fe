"""`zcd demo`: drives financings through the public API as the outside world does, then
reconciles what it did with the platform's statistics."""
