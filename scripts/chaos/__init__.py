"""Faults on the local stack, and the invariants that must hold through them (`make chaos`)."""
