"""Image operations on the local store, shared by the CLI and the daemon through Engine."""
