"""OCI and Docker image formats: media types, descriptors, manifests, indexes, configs."""
