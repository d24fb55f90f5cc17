"""Which S3 client library for the registry's S3 driver: measured against radosgw.

botocore (the core of boto3) called from worker threads, against aiobotocore (botocore's
request signing over aiohttp) on an event loop, doing the same work on the same radosgw:

- put: a 256 MiB object as a multipart upload, 16 MiB parts, 4 parts in flight;
- get: one streamed GET of it, read in 1 MiB pieces;
- small put / get / head: a 1 KiB object, one request at a time (median latency);
- small x8: 8 clients at once doing PUT+GET of 1 KiB objects (requests/s).

Both are configured as the driver is (path-style, unsigned payloads, checksums only
where S3 requires them).

Each figure is the median of --runs runs, libraries alternating. Usage:

    .venv/bin/python -m bench.s3_clients [--runs 3] [--endpoint URL]

Without --endpoint a throwaway Ceph cluster is started (tests/cephserver.py) and
stopped afterwards; with it, AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY are used.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

BIG = 256 << 20
PART = 16 << 20
IN_FLIGHT = 4
SMALL = 1024
SMALL_COUNT = 200
PARALLEL = 8
PARALLEL_COUNT = 50  # per client
# as the registry's driver: no SHA-256 of each body for the signature, no CRC32 either
S3_OPTIONS = {"addressing_style": "path", "payload_signing_enabled": False}
CHECKSUMS = {
    "request_checksum_calculation": "when_required",
    "response_checksum_validation": "when_required",
}


def _config_kwargs() -> dict:
    return {
        "region_name": "us-east-1",
        "aws_access_key_id": os.environ["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": os.environ["AWS_SECRET_ACCESS_KEY"],
    }


# -- botocore in worker threads ------------------------------------------------------


def botocore_client(endpoint: str):
    import botocore.config
    import botocore.session

    session = botocore.session.get_session()
    return session.create_client(
        "s3",
        endpoint_url=endpoint,
        config=botocore.config.Config(s3=S3_OPTIONS, max_pool_connections=32, **CHECKSUMS),
        **_config_kwargs(),
    )


def threads_put(client, bucket: str, key: str, data: memoryview) -> float:
    started = time.perf_counter()
    upload = client.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]

    def part(number: int) -> dict:
        body = data[(number - 1) * PART : number * PART]
        reply = client.upload_part(
            Bucket=bucket, Key=key, UploadId=upload, PartNumber=number, Body=bytes(body)
        )
        return {"PartNumber": number, "ETag": reply["ETag"]}

    with ThreadPoolExecutor(IN_FLIGHT) as pool:
        parts = list(pool.map(part, range(1, len(data) // PART + 1)))
    client.complete_multipart_upload(
        Bucket=bucket, Key=key, UploadId=upload, MultipartUpload={"Parts": parts}
    )
    return time.perf_counter() - started


def threads_get(client, bucket: str, key: str) -> float:
    started = time.perf_counter()
    body = client.get_object(Bucket=bucket, Key=key)["Body"]
    total = 0
    while chunk := body.read(1 << 20):
        total += len(chunk)
    assert total == BIG
    return time.perf_counter() - started


def threads_small(client, bucket: str) -> dict[str, float]:
    timings: dict[str, list[float]] = {"put": [], "get": [], "head": []}
    payload = os.urandom(SMALL)
    for index in range(SMALL_COUNT):
        key = f"small/{index}"
        for name, call in (
            ("put", lambda k=key: client.put_object(Bucket=bucket, Key=k, Body=payload)),
            ("get", lambda k=key: client.get_object(Bucket=bucket, Key=k)["Body"].read()),
            ("head", lambda k=key: client.head_object(Bucket=bucket, Key=k)),
        ):
            started = time.perf_counter()
            call()
            timings[name].append(time.perf_counter() - started)
    return {name: statistics.median(values) for name, values in timings.items()}


def threads_parallel(client, bucket: str) -> float:
    payload = os.urandom(SMALL)

    def one(worker: int) -> None:
        for index in range(PARALLEL_COUNT):
            key = f"par/{worker}/{index}"
            client.put_object(Bucket=bucket, Key=key, Body=payload)
            client.get_object(Bucket=bucket, Key=key)["Body"].read()

    started = time.perf_counter()
    with ThreadPoolExecutor(PARALLEL) as pool:
        list(pool.map(one, range(PARALLEL)))
    return PARALLEL * PARALLEL_COUNT * 2 / (time.perf_counter() - started)


def run_threads(endpoint: str, bucket: str, data: memoryview) -> dict[str, float]:
    client = botocore_client(endpoint)
    key = f"big-{uuid.uuid4()}"
    result = {
        "put": threads_put(client, bucket, key, data),
        "get": threads_get(client, bucket, key),
    }
    client.delete_object(Bucket=bucket, Key=key)
    result.update({f"small {k}": v for k, v in threads_small(client, bucket).items()})
    result["small x8"] = threads_parallel(client, bucket)
    client.close()
    return result


# -- aiobotocore -------------------------------------------------------------------------


async def _aio(endpoint: str, bucket: str, data: memoryview) -> dict[str, float]:
    import aiobotocore.session
    from aiobotocore.config import AioConfig

    session = aiobotocore.session.get_session()
    config = AioConfig(s3=S3_OPTIONS, max_pool_connections=32, **CHECKSUMS)
    async with session.create_client(
        "s3", endpoint_url=endpoint, config=config, **_config_kwargs()
    ) as client:
        result: dict[str, float] = {}
        key = f"big-{uuid.uuid4()}"
        started = time.perf_counter()
        upload = (await client.create_multipart_upload(Bucket=bucket, Key=key))["UploadId"]
        limit = asyncio.Semaphore(IN_FLIGHT)

        async def part(number: int) -> dict:
            async with limit:
                body = bytes(data[(number - 1) * PART : number * PART])
                reply = await client.upload_part(
                    Bucket=bucket, Key=key, UploadId=upload, PartNumber=number, Body=body
                )
                return {"PartNumber": number, "ETag": reply["ETag"]}

        parts = await asyncio.gather(*(part(n) for n in range(1, len(data) // PART + 1)))
        await client.complete_multipart_upload(
            Bucket=bucket, Key=key, UploadId=upload, MultipartUpload={"Parts": list(parts)}
        )
        result["put"] = time.perf_counter() - started

        started = time.perf_counter()
        reply = await client.get_object(Bucket=bucket, Key=key)
        total = 0
        async with reply["Body"] as body:
            while chunk := await body.read(1 << 20):
                total += len(chunk)
        assert total == BIG
        result["get"] = time.perf_counter() - started
        await client.delete_object(Bucket=bucket, Key=key)

        timings: dict[str, list[float]] = {"put": [], "get": [], "head": []}
        payload = os.urandom(SMALL)
        for index in range(SMALL_COUNT):
            small_key = f"asmall/{index}"
            started = time.perf_counter()
            await client.put_object(Bucket=bucket, Key=small_key, Body=payload)
            timings["put"].append(time.perf_counter() - started)
            started = time.perf_counter()
            reply = await client.get_object(Bucket=bucket, Key=small_key)
            async with reply["Body"] as body:
                await body.read()
            timings["get"].append(time.perf_counter() - started)
            started = time.perf_counter()
            await client.head_object(Bucket=bucket, Key=small_key)
            timings["head"].append(time.perf_counter() - started)
        result.update({f"small {k}": statistics.median(v) for k, v in timings.items()})

        async def one(worker: int) -> None:
            for index in range(PARALLEL_COUNT):
                par_key = f"apar/{worker}/{index}"
                await client.put_object(Bucket=bucket, Key=par_key, Body=payload)
                reply = await client.get_object(Bucket=bucket, Key=par_key)
                async with reply["Body"] as body:
                    await body.read()

        started = time.perf_counter()
        await asyncio.gather(*(one(w) for w in range(PARALLEL)))
        result["small x8"] = PARALLEL * PARALLEL_COUNT * 2 / (time.perf_counter() - started)
        return result


def run_aio(endpoint: str, bucket: str, data: memoryview) -> dict[str, float]:
    return asyncio.run(_aio(endpoint, bucket, data))


# -- report -------------------------------------------------------------------------------


def _cpu() -> float:
    times = os.times()
    return times.user + times.system


def measure(endpoint: str, runs: int) -> list[str]:
    client = botocore_client(endpoint)
    bucket = f"clients-{uuid.uuid4().hex[:8]}"
    client.create_bucket(Bucket=bucket)
    data = memoryview(os.urandom(BIG))
    results: dict[str, list[dict[str, float]]] = {"botocore (threads)": [], "aiobotocore": []}
    cpu: dict[str, list[float]] = {name: [] for name in results}
    for _ in range(runs):
        for name, runner in (("botocore (threads)", run_threads), ("aiobotocore", run_aio)):
            before = _cpu()
            results[name].append(runner(endpoint, bucket, data))
            cpu[name].append(_cpu() - before)
    lines = [
        "| library | 256 MiB PUT MB/s | 256 MiB GET MB/s | 1 KiB PUT ms | 1 KiB GET ms "
        "| HEAD ms | 8 clients req/s | client CPU s per run |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name, rows in results.items():
        med = {key: statistics.median(row[key] for row in rows) for key in rows[0]}
        lines.append(
            f"| {name} | {BIG / med['put'] / 1e6:.0f} | {BIG / med['get'] / 1e6:.0f} "
            f"| {med['small put'] * 1e3:.1f} | {med['small get'] * 1e3:.1f} "
            f"| {med['small head'] * 1e3:.1f} | {med['small x8']:.0f} "
            f"| {statistics.median(cpu[name]):.1f} |"
        )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--endpoint", help="an S3 endpoint (default: start a Ceph cluster)")
    args = parser.parse_args()
    if args.endpoint:
        print("\n".join(measure(args.endpoint, args.runs)))
        return
    from tests.cephserver import start_cluster

    cluster = start_cluster()
    try:
        os.environ.update(cluster.env())
        print("\n".join(measure(cluster.endpoint, args.runs)))
    finally:
        cluster.stop()


if __name__ == "__main__":
    main()
