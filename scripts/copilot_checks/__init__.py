"""Offline rendering of the Copilot manifests: the real Copilot CLI against moto's proxy."""
