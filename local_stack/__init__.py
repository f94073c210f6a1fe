"""`zcd run`'s local stack: the supervisor of its parts, the embedded PostgreSQL, the dev
servers' binaries, the Temporal UI proxy and the generated credentials. Nothing here runs in a
deployment (docker-compose.yml starts the parts itself)."""
