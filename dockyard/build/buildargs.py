"""Build arguments as Docker 20.10's classic builder scopes them (builder/dockerfile/buildargs.go)."""

from __future__ import annotations

BUILTIN = (
    "HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy",
    "FTP_PROXY", "ftp_proxy", "NO_PROXY", "no_proxy",
)  # fmt: skip


class BuildArgs:
    def __init__(self, from_options: dict[str, str | None]) -> None:
        self.from_options = dict(from_options)
        self.meta: dict[str, str | None] = {}  # ARG before the first FROM
        self.allowed: dict[str, str | None] = {}  # ARG in the current stage
        self.referenced: set[str] = set()

    def for_stage(self) -> BuildArgs:
        args = BuildArgs(self.from_options)
        args.meta = dict(self.meta)
        args.referenced = set(self.referenced)
        return args

    def add_meta(self, key: str, value: str | None) -> None:
        self.meta[key] = value

    def add(self, key: str, value: str | None) -> None:
        self.referenced.add(key)
        self.allowed[key] = value

    def _value(self, key: str, source: dict[str, str | None]) -> tuple[str, bool]:
        default = source.get(key)
        exists = key in source
        if key in self.from_options and self.from_options[key] is not None:
            return self.from_options[key] or "", True
        if default is None:
            meta = self.meta.get(key)
            if meta is not None:
                return meta, True
            return "", False
        return default, exists

    def meta_values(self) -> list[str]:
        out = []
        for key in self.meta:
            value, ok = self._value(key, self.meta)
            if ok:
                out.append(f"{key}={value}")
        return out

    def allowed_values(self) -> dict[str, str]:
        result: dict[str, str] = {}
        for key in [*self.allowed, *(k for k in BUILTIN if k not in self.allowed)]:
            source = self.allowed if key in self.allowed else {key: None}
            value, ok = self._value(key, source)
            if key in BUILTIN and key not in self.allowed:
                if key in self.from_options and self.from_options[key] is not None:
                    result[key] = self.from_options[key] or ""
                continue
            if ok:
                result[key] = value
        return result

    def filter_allowed(self, env: list[str]) -> list[str]:
        """KEY=value of the args in scope, minus those ENV sets."""
        env_keys = {item.split("=", 1)[0] for item in env}
        return [f"{k}={v}" for k, v in self.allowed_values().items() if k not in env_keys]

    def referenced_or_not_builtin(self, key: str) -> bool:
        return key in self.allowed or key not in BUILTIN

    def unused(self) -> list[str]:
        return sorted(k for k in self.from_options if k not in self.referenced and k not in BUILTIN)
