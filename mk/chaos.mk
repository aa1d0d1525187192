# Faults on the local stack, nothing lost (scripts/chaos/): `make chaos` runs the full form; the
# short form runs in test-python (scripts/tests/test_chaos.py). It starts its own stack, as
# `make run` does, feedback ingestion included.
.PHONY: chaos

chaos: $(STAMP) $(RUN_DEPS) ## Faults on a local stack of its own (kill -9, AWS endpoint restart, model faults, SIGTERM): a table; non-zero when an invariant breaks [SCENARIO=name]
	$(PY) -m chaos $(if $(SCENARIO),--only $(SCENARIO))
