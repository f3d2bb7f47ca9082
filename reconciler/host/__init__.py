"""The host half: reading the primary host against host/policy.toml, and changing it."""
