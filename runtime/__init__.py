"""What every process of the platform needs to run: the Temporal connection and its data
converter, the payload codec, logging, and waiting for the parts it depends on. Both `api/`
and `worker/` use it; neither imports the other."""
