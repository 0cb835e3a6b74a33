#!/usr/bin/env python3
"""mkimage.py - write a tiny OCI image into an OCI image layout directory.

Used by the end-to-end tests to get pushable images without a container
engine:

    mkimage.py DIR TAG [--content TEXT] [--size-mb N] [--print-digest]
    skopeo copy --dest-tls-verify=false oci:DIR:TAG docker://127.0.0.1:PORT/REPO:TAG

The image has one gzip'd tar layer holding one file (/ocigate-test.txt with
TEXT, or random bytes by default, so two invocations give two different
digests), an image config and an OCI manifest. --size-mb N adds a file of N MiB
of random (incompressible) bytes to the layer, for upload tests. DIR is created
when missing; an existing layout keeps its other tags (a tag given again is
replaced). --print-digest prints the manifest digest (sha256:...) on stdout.

Python 3 standard library only.
"""

import argparse
import gzip
import hashlib
import io
import json
import os
import sys
import tarfile
import time

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
REF_NAME = "org.opencontainers.image.ref.name"


def write_blob(layout, data):
    """Store data under blobs/sha256/ and return its descriptor fields."""
    digest = hashlib.sha256(data).hexdigest()
    bdir = os.path.join(layout, "blobs", "sha256")
    os.makedirs(bdir, exist_ok=True)
    path = os.path.join(bdir, digest)
    if not os.path.exists(path):
        tmp = path + ".tmp"
        with open(tmp, "wb") as f:
            f.write(data)
        os.rename(tmp, path)
    return "sha256:" + digest, len(data)


def add_file(tar, name, data, mtime):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    info.mode = 0o644
    info.mtime = mtime
    info.uname = info.gname = "root"
    tar.addfile(info, io.BytesIO(data))


def make_layer(content, size_mb, mtime):
    """Return (uncompressed tar bytes, gzip'd tar bytes)."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        add_file(tar, "ocigate-test.txt", content, mtime)
        if size_mb > 0:
            add_file(tar, "ocigate-big.bin", os.urandom(size_mb * 1024 * 1024), mtime)
    tar_bytes = raw.getvalue()
    # Level 1: the big file is random and does not compress anyway.
    gz = gzip.compress(tar_bytes, compresslevel=1 if size_mb > 0 else 6, mtime=0)
    return tar_bytes, gz


def main(argv):
    ap = argparse.ArgumentParser(description="write a tiny OCI image layout")
    ap.add_argument("dir", help="OCI layout directory (created when missing)")
    ap.add_argument("tag", help="tag name recorded in index.json")
    ap.add_argument("--content", help="file content of the layer (default: random)")
    ap.add_argument("--size-mb", type=int, default=0,
                    help="add N MiB of random bytes to the layer")
    ap.add_argument("--print-digest", action="store_true",
                    help="print the manifest digest on stdout")
    args = ap.parse_args(argv)

    if args.size_mb < 0 or args.size_mb > 4096:
        ap.error("--size-mb must be between 0 and 4096")
    if args.content is None:
        content = ("random " + os.urandom(16).hex() + "\n").encode()
    else:
        content = args.content.encode()

    layout = args.dir
    os.makedirs(layout, exist_ok=True)
    mtime = int(time.time())

    tar_bytes, gz = make_layer(content, args.size_mb, mtime)
    diff_id = "sha256:" + hashlib.sha256(tar_bytes).hexdigest()
    layer_digest, layer_size = write_blob(layout, gz)

    created = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(mtime))
    config = {
        "created": created,
        "architecture": "amd64",
        "os": "linux",
        "config": {"Labels": {"org.opencontainers.image.title": "ocigate-e2e"}},
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
        "history": [{"created": created, "created_by": "tests/e2e/mkimage.py"}],
    }
    config_digest, config_size = write_blob(
        layout, json.dumps(config, sort_keys=True, separators=(",", ":")).encode())

    manifest = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": OCI_CONFIG, "digest": config_digest, "size": config_size},
        "layers": [{"mediaType": OCI_LAYER, "digest": layer_digest, "size": layer_size}],
    }
    manifest_bytes = json.dumps(manifest, sort_keys=True, separators=(",", ":")).encode()
    manifest_digest, manifest_size = write_blob(layout, manifest_bytes)

    with open(os.path.join(layout, "oci-layout"), "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)

    index_path = os.path.join(layout, "index.json")
    index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": []}
    if os.path.exists(index_path):
        with open(index_path) as f:
            index = json.load(f)
        index["manifests"] = [m for m in index.get("manifests", [])
                              if m.get("annotations", {}).get(REF_NAME) != args.tag]
    index["manifests"].append({
        "mediaType": OCI_MANIFEST,
        "digest": manifest_digest,
        "size": manifest_size,
        "annotations": {REF_NAME: args.tag},
    })
    tmp = index_path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(index, f, indent=2)
    os.rename(tmp, index_path)

    if args.print_digest:
        print(manifest_digest)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
