"""The registry client: HTTP sessions with Docker's token auth, config.json credentials,
daemon.json settings (mirrors, insecure registries) and resumable blob transfers.

aiohttp is imported only by the modules that talk HTTP, never at CLI start-up.
"""
