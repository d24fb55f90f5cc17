"""Settings of one registry process."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class RegistryConfig:
    storage: str
    metadata: str | None = None  # postgresql://... or sqlite:///...; default registry.db in storage
    host: str = "127.0.0.1"
    port: int = 5000
    tls_cert: str | None = None
    tls_key: str | None = None
    service: str = "dockyard-registry"
    realm: str | None = None  # token endpoint URL; default: <scheme>://<host>/token
    token_ttl: int = 300
    anonymous_pull: bool = True
    gc_interval: float = 0.0  # seconds between online gc runs; 0 disables
    gc_grace: float = 3600.0  # blobs and manifests younger than this are never swept
    upload_grace: float = 86400.0  # upload sessions idle longer than this are swept
    gc_delete_untagged: bool = False
    catalog_max: int = 1000
    trusted_proxies: str = ""  # balancers whose X-Forwarded-For names the client
    read_bufsize: int = 1 << 20
    # S3 credentials from the config file (else botocore's chain: environment, ~/.aws)
    s3_keys: dict[str, str] = field(default_factory=dict)
