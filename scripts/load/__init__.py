"""Load tests with Locust: the journeys (`locustfile.py`, run in `.venvs/load`) and the runner
that prepares a target, its test users and the thresholds (`run.py`, `make load-test`)."""
