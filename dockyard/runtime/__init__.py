"""Running containers: OCI runtime driver, rootfs, monitor, attach, logs and state."""
