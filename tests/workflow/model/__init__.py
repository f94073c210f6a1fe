"""The model-based test of the financing workflow (issue 9, "a model that explores what the
chaos run only samples"): `machine.py` is the hypothesis state machine, `driver.py` drives one
financing on the time-skipping server and tells when it has settled, `invariants.py` holds
what must be true after every step, `systems.py` the fakes with the faults the model injects.
See tests/workflow/test_model.py and docs/reliability.md, "The model"."""
