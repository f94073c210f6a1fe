"""The chaos suite of issue 9 ("Nothing lost"): the whole platform as separate processes on
free ports, loans driven through the public API while workers, Temporal, the API and
PostgreSQL are killed and restarted and the bank fails — then every record compared.

`python -m tests.chaos --form full` (`make chaos`) or the short form in `make test`
(tests/chaos/test_chaos_short.py). See docs/reliability.md.
"""
