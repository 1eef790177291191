#!/usr/bin/env python3
"""Generate a synthetic ringmaster config repo for the benchmarks.

    gen_repo.py OUT_DIR --files N [--classes C] [--seed S] [--edit class|defaults]

Two shapes, which can be combined:

* ``--files N``: N standalone service configs under ``config/team-XXX/svc-XXXXX.yaml``,
  each a full, valid config of about 100 leaves and ~2.6 KB (1 000 files ~ 2.6 MB).
  With ``--classes 0`` (the default) the manifest has no ``hierarchy`` and no
  ``host_classes``: this is the pure file-check benchmark.
* ``--classes C``: a five-level hierarchy (defaults, role, region, ring, class) and C host
  classes with facts ``role`` (of 10), ``region`` (of 8) and ``ring`` (dogfood, single-tenant,
  multi-tenant; single-tenant classes also get a ``tenant``). ``config/defaults.yaml``
  defines every key (about 200 leaves); role, region and ring files override subsets;
  each class file overrides a handful. No layer sets a key that defaults lacks and no layer
  changes a leaf's type, so ``check`` reports neither ``unknown-override`` nor ``type-change``.

Every file validates against ``schemas/layer.schema.json`` (JSON Schema draft 2020-12),
which ``ringmaster.yaml`` maps to ``config/**/*.yaml``. The output directory is made a git
repository with one commit (fixed author, dates and messages, so the commit ids are the same
on every run with the same arguments).

``--edit class|defaults`` (needs ``--classes``) then changes one class file (two values
changed, one key newly overridden) or the defaults file (six values, four of them set by no
other layer, so every class changes) and commits that as a second commit: the two commits
the ``diff`` benchmark compares.

``--ring RING`` (needs ``--classes``) puts every class in that ring and writes
``rings/RING.yaml``, a ring with no gate, no soak and no approval, so that ``rollout start``
and ``rollout run`` deliver every class at once; ``--deliver '{kind: dir, path: OUT}'`` (or
an etcd one) sets the manifest's delivery target: the delivery benchmark.

``--expect FILE`` writes, as JSON, the answers the benchmarks check ringmaster's against:
``check`` (no finding: every file is valid and no layer overrides nothing or changes a
type; and how many files it reads), ``render`` (every class name, in order), with ``--ring``
``deliver`` (the ring and the classes its delivery writes) and, with ``--edit``, ``diff`` (host classes changed and leaf changes), computed
from this script's own reference merge of every class before and after the edit.

Python 3.8+, standard library only. Deterministic given the arguments.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import random
import re
import subprocess
import sys
from pathlib import Path

# --------------------------------------------------------------------------------------------
# Vocabulary

ROLES = ["api", "web", "worker", "batch", "gateway", "auth", "search", "billing", "ingest",
         "scheduler"]
REGIONS = ["us-east", "us-west", "eu-west", "eu-central", "ap-south", "ap-northeast",
           "sa-east", "ca-central"]
RINGS = ["dogfood", "single-tenant", "multi-tenant"]
TENANTS = ["acme", "globex", "initech", "umbrella", "hooli", "stark", "wayne", "wonka",
           "tyrell", "cyberdyne", "soylent", "oscorp"]
TEAMS = ["payments", "search", "identity", "platform", "growth", "storage", "checkout",
         "catalog", "ads", "infra", "messaging", "risk"]
WORDS = ["orders", "users", "carts", "invoices", "events", "sessions", "tokens", "reports",
         "images", "prices", "stock", "emails", "webhooks", "audit", "ledger", "quotes"]
FEATURES = ["new_checkout", "fast_search", "dark_mode", "bulk_export", "async_billing",
            "smart_retry", "edge_cache", "beta_api", "gzip_responses", "rate_limit_v2",
            "shadow_reads", "tenant_isolation", "audit_trail", "lazy_loading", "http3",
            "batch_writes", "read_replicas", "canary_routing", "token_rotation", "geo_routing"]
CIPHERS = ["TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256",
           "ECDHE-RSA-AES128-GCM-SHA256", "ECDHE-RSA-AES256-GCM-SHA384"]
HEADERS = ["X-Frame-Options", "X-Content-Type-Options", "Referrer-Policy",
           "Strict-Transport-Security", "Cache-Control", "X-Request-Source"]
HEADER_VALUES = {
    "X-Frame-Options": ["DENY", "SAMEORIGIN"],
    "X-Content-Type-Options": ["nosniff"],
    "Referrer-Policy": ["no-referrer", "strict-origin", "same-origin"],
    "Strict-Transport-Security": ["max-age=31536000", "max-age=63072000; includeSubDomains"],
    "Cache-Control": ["no-store", "private, max-age=60", "public, max-age=300"],
    "X-Request-Source": ["edge", "internal", "mesh"],
}
LABEL_KEYS = ["team", "tier", "cost_center", "component", "env", "owner", "product", "pager"]
LOG_FIELDS = ["service", "version", "zone", "cluster", "build", "commit"]
RETRY_ON = ["connect-failure", "reset", "5xx", "429", "timeout", "unavailable"]

SCHEMA_REL = "schemas/layer.schema.json"
EFFECTIVE_SCHEMA_REL = "schemas/service.schema.json"
COMMIT_DATES = ["2026-01-05T09:00:00+00:00", "2026-01-06T09:00:00+00:00"]


# --------------------------------------------------------------------------------------------
# The layer schema (JSON Schema draft 2020-12). Partial layers: no `required` at the top.

def _obj(props: dict, required: list | None = None, closed: bool = True) -> dict:
    out = {"type": "object", "properties": props}
    if required:
        out["required"] = required
    if closed:
        out["additionalProperties"] = False
    return out


def _int(lo: int, hi: int) -> dict:
    return {"type": "integer", "minimum": lo, "maximum": hi}


def _str_array(items: dict, max_items: int = 32, unique: bool = True) -> dict:
    out = {"type": "array", "items": items, "maxItems": max_items}
    if unique:
        out["uniqueItems"] = True
    return out


def _ref(name: str) -> dict:
    return {"$ref": f"#/$defs/{name}"}


def layer_schema() -> dict:
    level = {"type": "string", "enum": ["trace", "debug", "info", "warn", "error"]}
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://example.invalid/bench/layer.schema.json",
        "title": "Service config layer",
        "description": "One layer of a service's config. Layers are partial, so nothing is "
                       "required at the top; nested objects are closed.",
        "type": "object",
        "additionalProperties": False,
        "$defs": {
            "name": {"type": "string", "pattern": "^[a-z][a-z0-9-]{0,62}$"},
            "host": {"type": "string", "minLength": 1, "maxLength": 253,
                     "pattern": "^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$"},
            "port": _int(1, 65535),
            "duration_ms": _int(0, 3600000),
            "seconds": _int(0, 86400),
            "ratio": {"type": "number", "minimum": 0, "maximum": 1},
            "abs_path": {"type": "string", "pattern": "^/[A-Za-z0-9._/-]*$"},
            "string_map": {
                "type": "object",
                "propertyNames": {"pattern": "^[A-Za-z][A-Za-z0-9_-]{0,63}$"},
                "additionalProperties": {"type": "string", "maxLength": 256},
                "maxProperties": 32,
            },
        },
        "properties": {
            "service": _obj({
                "name": _ref("name"),
                "owner": {"type": "string", "pattern": "^team-[a-z0-9-]+$"},
                "tier": {"type": "string",
                         "enum": ["critical", "high", "standard", "best-effort"]},
                "description": {"type": "string", "maxLength": 200},
                "oncall": {"type": "string", "format": "email"},
            }),
            "server": _obj({
                "host": _ref("host"),
                "port": _ref("port"),
                "workers": _int(1, 512),
                "max_connections": _int(1, 1000000),
                "keepalive": {"type": "boolean"},
                "graceful_shutdown_s": _int(0, 600),
                "timeouts": _obj({
                    "connect_ms": _ref("duration_ms"),
                    "read_ms": _ref("duration_ms"),
                    "write_ms": _ref("duration_ms"),
                    "idle_ms": _ref("duration_ms"),
                }),
                "tls": _obj({
                    "enabled": {"type": "boolean"},
                    "cert_path": _ref("abs_path"),
                    "key_path": _ref("abs_path"),
                    "min_version": {"type": "string", "enum": ["1.2", "1.3"]},
                    "ciphers": _str_array({"type": "string", "enum": CIPHERS}, 8),
                }),
            }),
            "database": _obj({
                "engine": {"type": "string", "enum": ["postgres", "mysql", "cockroach"]},
                "primary": _obj({
                    "host": _ref("host"),
                    "port": _ref("port"),
                    "name": {"type": "string", "pattern": "^[a-z_][a-z0-9_]{0,62}$"},
                    "user": {"type": "string", "pattern": "^[a-z_][a-z0-9_]{0,31}$"},
                }),
                "replicas": {
                    "type": "array", "maxItems": 8,
                    "items": _obj({
                        "host": _ref("host"),
                        "port": _ref("port"),
                        "weight": _int(0, 100),
                    }, required=["host", "port"]),
                },
                "pool": _obj({
                    "min": _int(0, 1000),
                    "max": _int(1, 1000),
                    "idle_timeout_s": _ref("seconds"),
                    "max_lifetime_s": _ref("seconds"),
                }),
                "ssl_mode": {"type": "string",
                             "enum": ["disable", "require", "verify-ca", "verify-full"]},
                "statement_timeout_ms": _ref("duration_ms"),
                "migrations": _obj({
                    "auto": {"type": "boolean"},
                    "table": {"type": "string", "pattern": "^[a-z_][a-z0-9_]*$"},
                }),
            }),
            "cache": _obj({
                "enabled": {"type": "boolean"},
                "backend": {"type": "string", "enum": ["redis", "memcached", "in-memory"]},
                "ttl_s": _int(0, 604800),
                "max_entries": _int(0, 100000000),
                "eviction": {"type": "string", "enum": ["lru", "lfu", "fifo", "ttl"]},
                "nodes": _str_array({"type": "string",
                                     "pattern": "^[a-z0-9.-]+:[0-9]{2,5}$"}, 16),
                "compression": {"type": "string", "enum": ["none", "lz4", "zstd", "snappy"]},
            }),
            "logging": _obj({
                "level": level,
                "format": {"type": "string", "enum": ["json", "text", "logfmt"]},
                "sampling": _obj({
                    "enabled": {"type": "boolean"},
                    "rate": _ref("ratio"),
                    "burst": _int(0, 100000),
                }),
                "sinks": {
                    "type": "array", "maxItems": 8,
                    "items": _obj({
                        "kind": {"type": "string",
                                 "enum": ["stdout", "stderr", "file", "syslog", "otlp"]},
                        "target": {"type": "string", "maxLength": 200},
                        "level": level,
                    }, required=["kind"]),
                },
                "fields": _ref("string_map"),
                "redact": _str_array({"type": "string", "pattern": "^[a-z][a-z0-9_.]*$"}),
            }),
            "metrics": _obj({
                "enabled": {"type": "boolean"},
                "port": _ref("port"),
                "path": {"type": "string", "pattern": "^/[a-z0-9/_-]*$"},
                "interval_s": _int(1, 3600),
                "histogram_buckets": {"type": "array", "minItems": 1, "maxItems": 32,
                                      "items": {"type": "number", "exclusiveMinimum": 0}},
                "labels": _ref("string_map"),
            }),
            "tracing": _obj({
                "enabled": {"type": "boolean"},
                "exporter": {"type": "string", "enum": ["otlp", "jaeger", "zipkin", "none"]},
                "endpoint": {"type": "string", "format": "uri", "pattern": "^https?://"},
                "sample_ratio": _ref("ratio"),
                "propagation": _str_array(
                    {"type": "string", "enum": ["tracecontext", "baggage", "b3", "jaeger"]}, 4),
            }),
            "features": _str_array({"type": "string", "pattern": "^[a-z][a-z0-9_]*$"}, 64),
            "limits": _obj({
                "requests_per_second": _int(1, 1000000),
                "burst": _int(0, 1000000),
                "max_body_bytes": _int(0, 1073741824),
                "max_header_bytes": _int(0, 1048576),
                "per_client": _obj({
                    "requests_per_second": _int(1, 100000),
                    "burst": _int(0, 100000),
                }),
            }),
            "retry": _obj({
                "max_attempts": _int(0, 10),
                "backoff": _obj({
                    "initial_ms": _ref("duration_ms"),
                    "max_ms": _ref("duration_ms"),
                    "multiplier": {"type": "number", "minimum": 1, "maximum": 10},
                    "jitter": {"type": "boolean"},
                }),
                "retry_on": _str_array({"type": "string", "enum": RETRY_ON}, 8),
            }),
            "circuit_breaker": _obj({
                "enabled": {"type": "boolean"},
                "failure_ratio": _ref("ratio"),
                "min_requests": _int(1, 100000),
                "open_duration_s": _int(1, 3600),
                "half_open_max_calls": _int(1, 1000),
            }),
            "queues": {
                "type": "object",
                "propertyNames": {"pattern": "^[a-z][a-z0-9_-]{0,62}$"},
                "maxProperties": 32,
                "additionalProperties": _obj({
                    "workers": _int(1, 256),
                    "max_depth": _int(1, 10000000),
                    "visibility_timeout_s": _int(1, 43200),
                    "dead_letter": {"type": "boolean"},
                    "priority": {"type": "string", "enum": ["low", "normal", "high"]},
                }),
            },
            "http_client": _obj({
                "user_agent": {"type": "string", "maxLength": 100},
                "timeout_ms": _ref("duration_ms"),
                "max_idle_per_host": _int(0, 1024),
                "follow_redirects": {"type": "boolean"},
                "base_url": {"type": "string", "format": "uri", "pattern": "^https?://"},
            }),
            "security": _obj({
                "cors": _obj({
                    "allowed_origins": _str_array({"type": "string",
                                                   "pattern": "^https://[a-z0-9.-]+$"}),
                    "allow_credentials": {"type": "boolean"},
                    "max_age_s": _ref("seconds"),
                }),
                "trusted_proxies": _str_array({
                    "type": "string",
                    "pattern": "^([0-9]{1,3}\\.){3}[0-9]{1,3}/[0-9]{1,2}$"}),
                "headers": _ref("string_map"),
            }),
            "storage": _obj({
                "bucket": {"type": "string", "pattern": "^[a-z0-9][a-z0-9.-]{2,62}$"},
                "region": {"type": "string", "enum": REGIONS},
                "prefix": {"type": "string", "pattern": "^[a-z0-9/_-]*$"},
                "encryption": {"type": "string", "enum": ["none", "aes256", "kms"]},
                "retention_days": _int(1, 3650),
                "lifecycle": _obj({
                    "archive_after_days": _int(1, 3650),
                    "delete_after_days": _int(1, 3650),
                }),
            }),
            "routes": {
                "type": "object",
                "propertyNames": {"pattern": "^/[a-z0-9/_-]*$"},
                "maxProperties": 64,
                "additionalProperties": _obj({
                    "timeout_ms": _ref("duration_ms"),
                    "retries": _int(0, 5),
                    "rate_limit": _int(0, 100000),
                    "auth": {"type": "string", "enum": ["none", "token", "mtls", "oidc"]},
                }),
            },
        },
    }


def effective_schema() -> dict:
    """The merged config must have the basics, which a single layer need not. Self-contained
    (a copy of the layer schema plus `required`), so that no tool has to resolve a file $ref."""
    schema = layer_schema()
    schema["$id"] = "https://example.invalid/bench/service.schema.json"
    schema["title"] = "Service effective config"
    schema["description"] = "A host class's merged config: the layers' keys, and the basics set."
    schema["required"] = ["service", "server", "logging", "metrics"]
    props = schema["properties"]
    props["service"]["required"] = ["name", "owner", "tier"]
    props["server"]["required"] = ["host", "port"]
    props["database"]["properties"]["primary"]["required"] = ["host"]
    return schema


# --------------------------------------------------------------------------------------------
# Config values. `shape` fixes the keys of the open maps (routes, queues, labels, ...) so that
# several configs built with the same shape have exactly the same leaf paths.

def make_shape(rng: random.Random, rich: bool) -> dict:
    """Keys of the open maps and lengths of lists: rich for a hierarchy's defaults."""
    def pick(pool, lo, hi):
        return rng.sample(pool, rng.randint(lo, hi))
    if rich:
        routes = sorted({f"/v{rng.randint(1, 2)}/{w}" for w in rng.sample(WORDS, 14)})[:12]
        return {
            "routes": routes,
            "queues": sorted(rng.sample(WORDS, 6)),
            "labels": LABEL_KEYS[:],
            "fields": LOG_FIELDS[:],
            "headers": HEADERS[:],
            "replicas": 3,
            "sinks": 2,
        }
    return {
        "routes": sorted({f"/v{rng.randint(1, 2)}/{w}" for w in pick(WORDS, 1, 2)}),
        "queues": sorted(pick(WORDS, 1, 2)),
        "labels": sorted(pick(LABEL_KEYS, 2, 3)),
        "fields": sorted(pick(LOG_FIELDS, 1, 2)),
        "headers": sorted(pick(HEADERS, 1, 2)),
        "replicas": 1,
        "sinks": rng.randint(1, 2),
    }


def ratio(rng: random.Random, lo: float, hi: float, digits: int = 3) -> float:
    value = round(rng.uniform(lo, hi), digits)
    return max(value, 10 ** -digits)


def make_config(rng: random.Random, shape: dict, name: str, region: str = "us-east") -> dict:
    """A full, valid service config."""
    team = rng.choice(TEAMS)
    dc = region.replace("-", "")
    db_host = f"db-{name}.{dc}.internal"
    cfg = {
        "service": {
            "name": name,
            "owner": f"team-{team}",
            "tier": rng.choice(["critical", "high", "standard", "best-effort"]),
            "description": f"{rng.choice(WORDS).capitalize()} service for the {team} team",
            "oncall": f"{team}-oncall@example.com",
        },
        "server": {
            "host": "0.0.0.0",
            "port": rng.choice([8080, 8443, 9000, 3000, 8000]),
            "workers": rng.choice([2, 4, 8, 16, 32]),
            "max_connections": rng.choice([256, 512, 1024, 2048, 4096]),
            "keepalive": rng.random() < 0.8,
            "graceful_shutdown_s": rng.choice([10, 15, 30, 60]),
            "timeouts": {
                "connect_ms": rng.choice([500, 1000, 2000]),
                "read_ms": rng.choice([5000, 10000, 30000]),
                "write_ms": rng.choice([5000, 10000, 30000]),
                "idle_ms": rng.choice([60000, 90000, 120000]),
            },
            "tls": {
                "enabled": rng.random() < 0.9,
                "cert_path": f"/etc/tls/{name}/tls.crt",
                "key_path": f"/etc/tls/{name}/tls.key",
                "min_version": rng.choice(["1.2", "1.3"]),
                "ciphers": sorted(rng.sample(CIPHERS, rng.randint(2, 3))),
            },
        },
        "database": {
            "engine": rng.choice(["postgres", "postgres", "mysql", "cockroach"]),
            "primary": {
                "host": db_host,
                "port": rng.choice([5432, 3306, 26257]),
                "name": name.replace("-", "_"),
                "user": f"svc_{team}",
            },
            "replicas": [
                {"host": f"db-{name}-r{i + 1}.{dc}.internal", "port": 5432,
                 "weight": rng.choice([25, 50, 100])}
                for i in range(shape["replicas"])
            ],
            "pool": {
                "min": rng.choice([2, 4, 8]),
                "max": rng.choice([16, 32, 64]),
                "idle_timeout_s": rng.choice([300, 600]),
                "max_lifetime_s": rng.choice([1800, 3600]),
            },
            "ssl_mode": rng.choice(["require", "verify-ca", "verify-full"]),
            "statement_timeout_ms": rng.choice([5000, 15000, 30000]),
            "migrations": {"auto": rng.random() < 0.3,
                           "table": rng.choice(["schema_migrations", "db_migrations",
                                                "migrations"])},
        },
        "cache": {
            "enabled": rng.random() < 0.85,
            "backend": rng.choice(["redis", "memcached", "in-memory"]),
            "ttl_s": rng.choice([60, 300, 900, 3600]),
            "max_entries": rng.choice([10000, 100000, 1000000]),
            "eviction": rng.choice(["lru", "lfu", "ttl"]),
            "nodes": [f"cache-{i}.{dc}.internal:6379" for i in range(1, rng.randint(1, 3) + 1)],
            "compression": rng.choice(["none", "lz4", "zstd"]),
        },
        "logging": {
            "level": rng.choice(["debug", "info", "info", "warn"]),
            "format": rng.choice(["json", "json", "logfmt"]),
            "sampling": {
                "enabled": rng.random() < 0.5,
                "rate": ratio(rng, 0.01, 0.5),
                "burst": rng.choice([100, 500, 1000]),
            },
            "sinks": [
                {"kind": kind, "target": target, "level": rng.choice(["info", "warn"])}
                for kind, target in [("stdout", "-"), ("file", f"/var/log/{name}/app.log")]
                [:shape["sinks"]]
            ],
            "fields": {k: f"{k}-{rng.randint(1, 99)}" for k in shape["fields"]},
            "redact": sorted(rng.sample(["password", "token", "authorization", "card.number",
                                         "ssn", "api_key"], 3)),
        },
        "metrics": {
            "enabled": True,
            "port": rng.choice([9090, 9100, 9102]),
            "path": "/metrics",
            "interval_s": rng.choice([10, 15, 30, 60]),
            "histogram_buckets": [0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0],
            "labels": {k: f"{k.replace('_', '-')}-{rng.randint(1, 20)}" for k in shape["labels"]},
        },
        "tracing": {
            "enabled": rng.random() < 0.7,
            "exporter": rng.choice(["otlp", "otlp", "jaeger", "zipkin"]),
            "endpoint": f"https://otel.{dc}.example.com:4318/v1/traces",
            "sample_ratio": ratio(rng, 0.001, 0.2, 3),
            "propagation": rng.choice([["tracecontext", "baggage"], ["b3"],
                                       ["tracecontext"]]),
        },
        "features": sorted(rng.sample(FEATURES, rng.randint(3, 6))),
        "limits": {
            "requests_per_second": rng.choice([100, 500, 1000, 5000]),
            "burst": rng.choice([50, 200, 1000]),
            "max_body_bytes": rng.choice([1048576, 4194304, 10485760]),
            "max_header_bytes": rng.choice([8192, 16384, 65536]),
            "per_client": {
                "requests_per_second": rng.choice([10, 50, 100]),
                "burst": rng.choice([20, 100, 200]),
            },
        },
        "retry": {
            "max_attempts": rng.randint(1, 5),
            "backoff": {
                "initial_ms": rng.choice([50, 100, 200]),
                "max_ms": rng.choice([2000, 5000, 10000]),
                "multiplier": rng.choice([1.5, 2.0, 3.0]),
                "jitter": rng.random() < 0.8,
            },
            "retry_on": sorted(rng.sample(RETRY_ON, rng.randint(2, 4))),
        },
        "circuit_breaker": {
            "enabled": rng.random() < 0.6,
            "failure_ratio": ratio(rng, 0.05, 0.5, 2),
            "min_requests": rng.choice([20, 50, 100]),
            "open_duration_s": rng.choice([10, 30, 60]),
            "half_open_max_calls": rng.choice([1, 5, 10]),
        },
        "queues": {
            q: {
                "workers": rng.choice([1, 2, 4, 8]),
                "max_depth": rng.choice([1000, 10000, 100000]),
                "visibility_timeout_s": rng.choice([30, 60, 300]),
                "dead_letter": rng.random() < 0.7,
                "priority": rng.choice(["low", "normal", "high"]),
            }
            for q in shape["queues"]
        },
        "http_client": {
            "user_agent": f"{name}/1.{rng.randint(0, 40)}",
            "timeout_ms": rng.choice([1000, 2000, 5000]),
            "max_idle_per_host": rng.choice([8, 16, 32]),
            "follow_redirects": rng.random() < 0.3,
            "base_url": f"https://{rng.choice(WORDS)}.{dc}.example.com",
        },
        "security": {
            "cors": {
                "allowed_origins": [f"https://{team}.example.com", "https://app.example.com"],
                "allow_credentials": rng.random() < 0.5,
                "max_age_s": rng.choice([600, 3600, 86400]),
            },
            "trusted_proxies": ["10.0.0.0/8", f"172.{rng.randint(16, 31)}.0.0/16"],
            "headers": {h: rng.choice(HEADER_VALUES[h]) for h in shape["headers"]},
        },
        "storage": {
            "bucket": f"{name}-{dc}-data",
            "region": region,
            "prefix": f"{team}/{name}",
            "encryption": rng.choice(["aes256", "kms"]),
            "retention_days": rng.choice([30, 90, 365]),
            "lifecycle": {
                "archive_after_days": rng.choice([30, 60, 90]),
                "delete_after_days": rng.choice([365, 730, 1825]),
            },
        },
        "routes": {
            r: {
                "timeout_ms": rng.choice([500, 1000, 2000, 5000]),
                "retries": rng.randint(0, 3),
                "rate_limit": rng.choice([100, 500, 1000, 5000]),
                "auth": rng.choice(["token", "token", "mtls", "oidc", "none"]),
            }
            for r in shape["routes"]
        },
    }
    return cfg


# --------------------------------------------------------------------------------------------
# Leaves: scalars and lists (a later layer replaces a list as a whole).

def leaves(node, prefix=()):
    if isinstance(node, dict):
        for key, value in node.items():
            yield from leaves(value, prefix + (key,))
    else:
        yield prefix, node


def get_path(node: dict, path: tuple):
    for key in path:
        node = node[key]
    return node


def set_path(node: dict, path: tuple, value) -> None:
    for key in path[:-1]:
        node = node.setdefault(key, {})
    node[path[-1]] = copy.deepcopy(value)


def different_value(path: tuple, current, candidates: list):
    """A value for `path` that differs from `current`, taken from alternative full configs
    (all built with the same shape, so always valid and of the same type)."""
    for cand in candidates:
        value = get_path(cand, path)
        if value != current:
            return value
    # Every alternative agrees: nudge a number or flip a boolean within the schema's bounds.
    if isinstance(current, bool):
        return not current
    if isinstance(current, int) and not path[-1].endswith("port"):
        return current + 1 if current < 60 else current - 1
    return current


# --------------------------------------------------------------------------------------------
# YAML output (block style, deterministic, quoting anything a YAML 1.1 parser could misread).

PLAIN_RE = re.compile(r"[A-Za-z_/][A-Za-z0-9_./ ,=()-]*")
PLAIN_KEY_RE = re.compile(r"[A-Za-z_/][A-Za-z0-9_./-]*")
YAML11_WORDS = {"y", "n", "yes", "no", "on", "off", "true", "false", "null", "~"}


def scalar(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        text = repr(value)
        if "e" in text or "E" in text or "." not in text:
            text = f"{value:.6f}".rstrip("0")
            if text.endswith("."):
                text += "0"
        return text
    text = str(value)
    if (PLAIN_RE.fullmatch(text) and text.lower() not in YAML11_WORDS
            and not text.endswith(" ") and "  " not in text):
        return text
    return json.dumps(text)


def key_text(key: str) -> str:
    if PLAIN_KEY_RE.fullmatch(key) and key.lower() not in YAML11_WORDS:
        return key
    return json.dumps(key)


def is_scalar_list(value) -> bool:
    return isinstance(value, list) and all(not isinstance(v, (dict, list)) for v in value)


def emit(node: dict, indent: int = 0) -> list:
    pad = " " * indent
    out = []
    for key, value in node.items():
        k = key_text(key)
        if isinstance(value, dict):
            if value:
                out.append(f"{pad}{k}:")
                out.extend(emit(value, indent + 2))
            else:
                out.append(f"{pad}{k}: {{}}")
        elif isinstance(value, list):
            if not value:
                out.append(f"{pad}{k}: []")
            elif is_scalar_list(value) and all(isinstance(v, (int, float)) for v in value):
                out.append(f"{pad}{k}: [{', '.join(scalar(v) for v in value)}]")
            elif is_scalar_list(value):
                out.append(f"{pad}{k}:")
                out.extend(f"{pad}  - {scalar(v)}" for v in value)
            else:
                out.append(f"{pad}{k}:")
                for item in value:
                    lines = emit(item, indent + 4)
                    out.append(f"{pad}  - {lines[0].lstrip()}")
                    out.extend(lines[1:])
        else:
            out.append(f"{pad}{k}: {scalar(value)}")
    return out


def yaml_text(node: dict, comment: str | None = None) -> str:
    lines = [f"# {comment}"] if comment else []
    lines.extend(emit(node))
    return "\n".join(lines) + "\n"


def write(path: Path, text: str) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return len(text.encode("utf-8"))


# --------------------------------------------------------------------------------------------
# Repo contents

def rng_for(seed: int, *parts) -> random.Random:
    return random.Random("/".join([str(seed), *map(str, parts)]))


def manifest_text(classes: list, effective: bool, ring: str | None = None,
                  deliver: str | None = None) -> str:
    lines = ["# Synthetic config repo generated by ringmaster benches/gen_repo.py", "version: 1"]
    if classes:
        lines += [
            "hierarchy:",
            "  - config/defaults.yaml",
            "  - config/role/{role}.yaml",
            "  - config/region/{region}.yaml",
            "  - config/ring/{ring}.yaml",
            "  - config/class/{class}.yaml",
            "host_classes:",
        ]
        for name, facts in classes:
            body = ", ".join(f"{k}: {v}" for k, v in facts.items())
            lines.append(f"  {name}: {{ {body} }}")
    lines += [
        "schemas:",
        '  - files: "config/**/*.yaml"',
        f"    schema: {SCHEMA_REL}",
    ]
    if classes and effective:
        lines += ["effective:", f"  schema: {EFFECTIVE_SCHEMA_REL}"]
    if ring:
        # The ring has no gate on purpose (it times delivery alone): no notice for that.
        lines += ["rings: rings/", "rules:", "  ring-ungated: off"]
    if deliver:
        lines += [f"deliver: {deliver}"]
    return "\n".join(lines) + "\n"


def ring_text(ring: str) -> str:
    """A ring that delivers at once: no gate, no soak, no approval (the delivery benchmark)."""
    return (f"# Every host class of this synthetic repo is in this ring\n"
            f"name: {ring}\norder: 1\nsoak: 0s\ninterval: 1s\ngates: []\n")


OPTIONAL_SECTIONS = ["queues", "storage", "routes", "circuit_breaker", "http_client",
                     "security", "tracing", "retry", "cache"]


def gen_files(out: Path, n: int, seed: int, stats: dict) -> None:
    for i in range(n):
        rng = rng_for(seed, "file", i)
        team = f"team-{i // 100:03d}"
        name = f"svc-{i:05d}"
        shape = make_shape(rng, rich=False)
        cfg = make_config(rng, shape, name, region=rng.choice(REGIONS))
        # Not every service uses every section.
        for section in rng.sample(OPTIONAL_SECTIONS, rng.randint(3, 5)):
            del cfg[section]
        stats["bytes"] += write(out / "config" / team / f"{name}.yaml",
                                yaml_text(cfg, name))
        stats["files"] += 1
        stats["leaves"] += sum(1 for _ in leaves(cfg))


def make_classes(count: int, seed: int, ring_of_all: str | None = None) -> list:
    """The host classes and their facts; `ring_of_all`: every class in that ring."""
    rng = rng_for(seed, "classes")
    classes = []
    for i in range(count):
        role = ROLES[i % len(ROLES)]
        region = REGIONS[(i // len(ROLES)) % len(REGIONS)]
        draw = rng.random()
        ring = ring_of_all or ("dogfood" if draw < 0.05 else
                               "single-tenant" if draw < 0.30 else "multi-tenant")
        facts = {"role": role, "region": region, "ring": ring}
        if ring == "single-tenant":
            facts["tenant"] = rng.choice(TENANTS)
        classes.append((f"{role}-{region}-{i:04d}", facts))
    return classes


# Which sections each level tends to override, and how many leaves.
LEVELS = {
    "role": (["server", "database", "cache", "limits", "queues", "routes", "http_client",
              "retry", "features", "circuit_breaker", "service"], 30),
    "region": (["database", "cache", "storage", "tracing", "http_client", "metrics",
                "security"], 15),
    "ring": (["logging", "tracing", "features", "circuit_breaker", "retry", "limits"], 10),
}
# Set in defaults only (never overridden): what the `--edit defaults` commit changes, so that
# every class's effective config changes.
DEFAULTS_ONLY = {("server", "graceful_shutdown_s"), ("metrics", "interval_s"),
                 ("logging", "sampling", "burst"), ("security", "cors", "max_age_s"),
                 ("database", "migrations", "table"), ("storage", "lifecycle",
                                                       "delete_after_days")}


class Hierarchy:
    """The layer files of a hierarchy repo, kept as dicts so an edit can rewrite one."""

    def __init__(self, count: int, seed: int, ring: str | None = None):
        self.seed = seed
        self.classes = make_classes(count, seed, ring)
        rng = rng_for(seed, "defaults")
        self.shape = make_shape(rng, rich=True)
        self.defaults = make_config(rng, self.shape, "fleet-service")
        self.paths = [p for p, _ in leaves(self.defaults)]
        self.layers: dict[str, dict] = {}  # repo-relative path -> partial config
        for level, names in (("role", ROLES), ("region", REGIONS), ("ring", RINGS)):
            for name in names:
                self.layers[f"config/{level}/{name}.yaml"] = self.level_layer(level, name)
        for name, _facts in self.classes:
            self.layers[f"config/class/{name}.yaml"] = self.class_layer(name)

    def alternatives(self, *parts, region="us-east") -> list:
        return [make_config(rng_for(self.seed, "alt", *parts, k), self.shape, "fleet-service",
                            region=region) for k in range(3)]

    def choose(self, rng: random.Random, sections: list, count: int) -> list:
        pool = [p for p in self.paths if p[0] in sections and p not in DEFAULTS_ONLY]
        return sorted(rng.sample(pool, min(count, len(pool))), key=self.paths.index)

    def level_layer(self, level: str, name: str) -> dict:
        rng = rng_for(self.seed, level, name)
        sections, count = LEVELS[level]
        region = name if level == "region" else "us-east"
        alts = self.alternatives(level, name, region=region)
        chosen = self.choose(rng, sections, rng.randint(count - count // 4, count + count // 4))
        if level == "region":
            chosen = sorted(set(chosen) | {("storage", "region")}, key=self.paths.index)
        layer: dict = {}
        for path in chosen:
            current = get_path(self.defaults, path)
            if path == ("storage", "region"):
                value = name
            else:
                value = different_value(path, current, alts)
            set_path(layer, path, value)
        return sparse_in_order(layer, self.paths)

    def class_layer(self, name: str) -> dict:
        rng = rng_for(self.seed, "class", name)
        alts = self.alternatives("class", name)
        sections = ["server", "limits", "cache", "logging", "routes", "queues", "features"]
        layer: dict = {}
        for path in self.choose(rng, sections, rng.randint(3, 7)):
            set_path(layer, path, different_value(path, get_path(self.defaults, path),
                                                  alts))
        return sparse_in_order(layer, self.paths)

    def files(self) -> dict:
        out = {"config/defaults.yaml": yaml_text(self.defaults,
                                                 "Fleet-wide defaults: every key is set here")}
        for rel, layer in self.layers.items():
            out[rel] = yaml_text(layer, f"{Path(rel).parent.name} layer {Path(rel).stem}")
        return out

    def effective(self, name: str, facts: dict) -> dict:
        """The class's merged config (a plain reference merge: maps merge, the rest replaces)."""
        out = copy.deepcopy(self.defaults)
        for rel in (f"config/role/{facts['role']}.yaml", f"config/region/{facts['region']}.yaml",
                    f"config/ring/{facts['ring']}.yaml", f"config/class/{name}.yaml"):
            for path, value in leaves(self.layers[rel]):
                set_path(out, path, value)
        return out

    def all_effective(self) -> dict:
        """Every class's merged config, by class name."""
        return {name: self.effective(name, facts) for name, facts in self.classes}

    @staticmethod
    def change(target: dict, paths: list, want: int, alts: list,
               before: dict | None = None) -> list:
        """Set up to `want` of `paths` in `target` to a new value (one that also differs from
        `before`, the value the class had); return the paths changed."""
        changed = []
        for path in paths:
            if len(changed) == want:
                break
            try:
                current = get_path(target, path)
            except KeyError:
                current = get_path(before, path)
            old = get_path(before, path) if before is not None else current
            value = different_value(path, old, alts)
            if value != old and value != current:
                set_path(target, path, value)
                changed.append(path)
        return changed

    def edit_class(self) -> tuple[str, str]:
        """Change two values one class file sets, and override one more key in it."""
        rng = rng_for(self.seed, "edit", "class")
        name, facts = self.classes[rng.randrange(len(self.classes))]
        rel = f"config/class/{name}.yaml"
        layer = self.layers[rel]
        before = self.effective(name, facts)
        alts = self.alternatives("edit", name)
        set_now = [p for p, _ in leaves(layer)]
        changed = self.change(layer, set_now, 2, alts, before)
        unset = [p for p in self.choose(rng, ["server", "limits", "retry", "cache"], 60)
                 if p not in set_now]
        changed += self.change(layer, unset, 1, alts, before)
        self.layers[rel] = sparse_in_order(layer, self.paths)
        assert len(changed) == 3, changed
        return rel, f"{name}: tune {', '.join('.'.join(p) for p in changed)}"

    def edit_defaults(self) -> tuple[str, str]:
        """Change six default values: four that no other layer sets (so every class changes)
        and two that some layers override (so some classes keep their value)."""
        rng = rng_for(self.seed, "edit", "defaults")
        alts = self.alternatives("edit", "defaults")
        overridden = sorted({p for layer in self.layers.values() for p, _ in leaves(layer)},
                            key=self.paths.index)
        only = sorted(DEFAULTS_ONLY, key=self.paths.index)
        changed = self.change(self.defaults, only, 4, alts)
        rng.shuffle(overridden)
        changed += self.change(self.defaults, overridden, 2, alts)
        assert len(changed) == 6, changed
        return "config/defaults.yaml", f"defaults: tune {len(changed)} fleet-wide values"


def diff_counts(before: dict, after: dict) -> dict:
    """What `ringmaster diff` must report between two sets of merged configs: the classes
    whose leaves differ and the number of leaves added, removed or changed (a list is one
    leaf; values compare by JSON text, so 1 and 1.0 or 1 and true differ)."""
    changes = 0
    classes = 0
    for name in sorted(set(before) | set(after)):
        old = {p: json.dumps(v, sort_keys=True) for p, v in leaves(before.get(name, {}))}
        new = {p: json.dumps(v, sort_keys=True) for p, v in leaves(after.get(name, {}))}
        n = sum(1 for p in set(old) | set(new) if old.get(p) != new.get(p))
        changes += n
        classes += n > 0
    return {"classes_total": len(after), "classes_changed": classes, "changes": changes}


def sparse_in_order(layer: dict, order: list) -> dict:
    """Rebuild `layer` with keys in the defaults' order (stable, readable diffs)."""
    have = {p: v for p, v in leaves(layer)}
    out: dict = {}
    for path in order:
        if path in have:
            set_path(out, path, have[path])
    return out


# --------------------------------------------------------------------------------------------
# git

def git(out: Path, *args: str, date: str | None = None) -> None:
    env = dict(os.environ)
    env.update({"GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull, "TZ": "UTC"})
    if date:
        env.update({"GIT_AUTHOR_DATE": date, "GIT_COMMITTER_DATE": date})
    cmd = ["git", "-c", "user.name=bench", "-c", "user.email=bench@example.invalid",
           "-c", "commit.gpgsign=false", "-c", "core.autocrlf=false", *args]
    subprocess.run(cmd, cwd=out, env=env, check=True, stdout=subprocess.DEVNULL)


def commit_all(out: Path, message: str, date: str) -> None:
    git(out, "add", "-A")
    git(out, "commit", "-q", "--no-verify", "-m", message, date=date)


# --------------------------------------------------------------------------------------------

def main(argv: list | None = None) -> int:
    ap = argparse.ArgumentParser(
        description="Generate a synthetic ringmaster config repo (a git repository).")
    ap.add_argument("out_dir", type=Path, help="output directory (must not exist, or be empty)")
    ap.add_argument("--files", type=int, default=0,
                    help="standalone service configs to write (~2.6 KB, ~100 leaves each)")
    ap.add_argument("--classes", type=int, default=0,
                    help="host classes; >0 adds the 5-level hierarchy and per-class files")
    ap.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    ap.add_argument("--edit", choices=["class", "defaults"],
                    help="with --classes: commit a second revision that edits one class file "
                         "or the defaults file")
    ap.add_argument("--effective-schema", action="store_true",
                    help="with --classes: also map an effective schema (manifest `effective:`)")
    ap.add_argument("--ring", choices=RINGS,
                    help="with --classes: put every class in this ring and write rings/RING.yaml "
                         "(no gates, no soak) and `rings: rings/`: the delivery benchmark")
    ap.add_argument("--deliver", metavar="YAML",
                    help="the manifest's `deliver:` section, as one line of flow YAML, e.g. "
                         "'{kind: dir, path: /tmp/out}'")
    ap.add_argument("-q", "--quiet", action="store_true", help="no summary on stderr")
    ap.add_argument("--expect", type=Path,
                    help="write the answers check and diff must give, as JSON")
    args = ap.parse_args(argv)

    if args.files < 0 or args.classes < 0:
        ap.error("--files and --classes must be >= 0")
    if args.files == 0 and args.classes == 0:
        ap.error("nothing to generate: give --files N and/or --classes C")
    if args.edit and args.classes == 0:
        ap.error("--edit needs --classes")
    if args.ring and args.classes == 0:
        ap.error("--ring needs --classes")
    if args.deliver and "\n" in args.deliver:
        ap.error("--deliver takes one line")
    out: Path = args.out_dir
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        ap.error(f"{out} exists and is not an empty directory")
    out.mkdir(parents=True, exist_ok=True)

    stats = {"files": 0, "bytes": 0, "leaves": 0}
    hier = Hierarchy(args.classes, args.seed, args.ring) if args.classes else None
    write(out / SCHEMA_REL, json.dumps(layer_schema(), indent=2) + "\n")
    if hier and args.effective_schema:
        write(out / EFFECTIVE_SCHEMA_REL, json.dumps(effective_schema(), indent=2) + "\n")
    write(out / "ringmaster.yaml",
          manifest_text(hier.classes if hier else [], args.effective_schema, args.ring,
                        args.deliver))
    if args.ring:
        write(out / "rings" / f"{args.ring}.yaml", ring_text(args.ring))
    if args.files:
        gen_files(out, args.files, args.seed, stats)
    if hier:
        for rel, text in hier.files().items():
            stats["bytes"] += write(out / rel, text)
            stats["files"] += 1

    git(out, "init", "-q", "-b", "main")
    commit_all(out, f"bench: synthetic config repo (files={args.files}, "
                    f"classes={args.classes}, seed={args.seed})", COMMIT_DATES[0])

    edited = None
    # `check` reads every config file, the layer schema, the manifest (and the effective
    # schema): a checker that skipped files would also find nothing, so the count is checked.
    checked = (stats["files"] + 2 + (1 if hier and args.effective_schema else 0)
               + (1 if hier and args.ring else 0))
    expect: dict = {"check": {"findings": 0, "errors": 0, "warnings": 0, "files": checked}}
    if hier:
        # `render --all` prints one JSON line per class, in name order.
        expect["render"] = {"classes": sorted(name for name, _ in hier.classes)}
    if hier and args.ring:
        # A delivery of the ring writes one entry per class in it: all of them.
        expect["deliver"] = {"ring": args.ring, "classes": expect["render"]["classes"]}
    if hier and args.edit:
        before = hier.all_effective()
        rel, message = hier.edit_class() if args.edit == "class" else hier.edit_defaults()
        text = hier.files()[rel]
        write(out / rel, text)
        commit_all(out, message, COMMIT_DATES[1])
        edited = rel
        expect["diff"] = diff_counts(before, hier.all_effective())
    if args.expect:
        args.expect.parent.mkdir(parents=True, exist_ok=True)
        args.expect.write_text(json.dumps(expect, indent=1) + "\n")

    if not args.quiet:
        parts = [f"{out}: {stats['files']} config files, {stats['bytes'] / 1e6:.2f} MB"]
        if stats["leaves"]:
            n = args.files
            parts.append(f"{n} service files: avg {stats['leaves'] / n:.0f} leaves")
        if hier:
            parts.append(f"{len(hier.classes)} classes, {len(hier.paths)} leaves per class")
        if edited:
            parts.append(f"second commit edits {edited}")
        print("; ".join(parts), file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
