"""Monthly cost of one environment from the Copilot manifests, the CDK configuration, a dated
price table and the stated traffic (`make cost ENV=...`, docs/operations.md)."""
