"""A PEP 517 build backend for the root pyproject.toml: the metadata-only
`ringmaster-pre-commit` wheel that pre-commit installs for the `language:
python` hooks. Its version is Cargo.toml's and it requires `ringmaster-cli` at
exactly that version, so a hook at a ringmaster tag installs that tag's
prebuilt wheel. Standard library only: building it needs nothing from the
package index (pip's isolated build environment stays empty).
"""

import base64
import hashlib
import io
import os
import re
import tarfile
import zipfile

NAME = "ringmaster-pre-commit"
DIST = "ringmaster_pre_commit"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _version():
    """[package] version from Cargo.toml (no tomllib before Python 3.11)."""
    path = os.path.join(ROOT, "Cargo.toml")
    with open(path, encoding="utf-8") as f:
        text = f.read()
    section = re.search(r"^\[package\]\s*$(.*?)(?=^\[|\Z)", text, re.M | re.S)
    found = section and re.search(r'^version\s*=\s*"([^"]+)"\s*$', section.group(1), re.M)
    if not found:
        raise RuntimeError(f"{path}: no version = \"...\" in [package]")
    return found.group(1)


def _metadata(version):
    return (
        "Metadata-Version: 2.1\n"
        f"Name: {NAME}\n"
        f"Version: {version}\n"
        "Summary: Installs the prebuilt ringmaster-cli wheel of the same version "
        "(for pre-commit's language: python hooks)\n"
        "License: Apache-2.0\n"
        f"Requires-Dist: ringmaster-cli=={version}\n"
    )


def _dist_info_files(version):
    wheel = (
        "Wheel-Version: 1.0\n"
        "Generator: ringmaster hook_backend\n"
        "Root-Is-Purelib: true\n"
        "Tag: py3-none-any\n"
    )
    return {"METADATA": _metadata(version), "WHEEL": wheel}


def get_requires_for_build_wheel(config_settings=None):
    return []


def get_requires_for_build_sdist(config_settings=None):
    return []


def prepare_metadata_for_build_wheel(metadata_directory, config_settings=None):
    version = _version()
    dist_info = f"{DIST}-{version}.dist-info"
    os.makedirs(os.path.join(metadata_directory, dist_info), exist_ok=True)
    for name, text in _dist_info_files(version).items():
        with open(os.path.join(metadata_directory, dist_info, name), "w", encoding="utf-8") as f:
            f.write(text)
    return dist_info


def build_wheel(wheel_directory, config_settings=None, metadata_directory=None):
    version = _version()
    dist_info = f"{DIST}-{version}.dist-info"
    name = f"{DIST}-{version}-py3-none-any.whl"
    record = []
    with zipfile.ZipFile(os.path.join(wheel_directory, name), "w", zipfile.ZIP_DEFLATED) as whl:
        for file, text in _dist_info_files(version).items():
            data = text.encode("utf-8")
            digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
            record.append(f"{dist_info}/{file},sha256={digest.decode()},{len(data)}\n")
            whl.writestr(f"{dist_info}/{file}", data)
        record.append(f"{dist_info}/RECORD,,\n")
        whl.writestr(f"{dist_info}/RECORD", "".join(record))
    return name


def build_sdist(sdist_directory, config_settings=None):
    """The files the wheel is built from: this backend, the pyproject and Cargo.toml."""
    version = _version()
    base = f"{DIST}-{version}"
    name = f"{base}.tar.gz"
    with tarfile.open(os.path.join(sdist_directory, name), "w:gz") as tar:
        for file in ["pyproject.toml", "Cargo.toml", "packaging/hook_backend.py"]:
            tar.add(os.path.join(ROOT, file), arcname=f"{base}/{file}")
        pkg_info = _metadata(version).encode("utf-8")
        info = tarfile.TarInfo(f"{base}/PKG-INFO")
        info.size = len(pkg_info)
        tar.addfile(info, io.BytesIO(pkg_info))
    return name
