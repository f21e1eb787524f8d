"""The fault matrix: the runtime against a scriptable hostile server on 127.0.0.1."""
