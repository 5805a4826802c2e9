"""The OpenAPI 3.1 document of the status API, served at ``/api/openapi.json``.

Kept as Python rather than a JSON file so it ships with the package without package-data
settings and so later endpoints can extend it (add to ``paths`` / ``components.schemas``).
Schemas are JSON Schema 2020-12, as OpenAPI 3.1 uses it (nullable is ``["string", "null"]``).
"""

from __future__ import annotations

import json
from typing import Any, Final

OPENAPI_VERSION: Final = "3.1.0"

_ISO: Final[dict[str, Any]] = {"type": "string", "format": "date-time"}
_ISO_OR_NULL: Final[dict[str, Any]] = {"type": ["string", "null"], "format": "date-time"}
_COUNT: Final[dict[str, Any]] = {"type": "integer", "minimum": 0}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


_SCHEMAS: Final[dict[str, Any]] = {
    "Error": {
        "type": "object",
        "description": "Every error response of this API.",
        "required": ["error"],
        "properties": {"error": {"type": "string", "examples": ["no such endpoint: /x"]}},
    },
    "AmiLink": {
        "type": "object",
        "description": "The AMI link to the PBX (more fields may be present).",
        "required": ["state"],
        "properties": {
            "state": {
                "type": "string",
                "enum": [
                    "disconnected",
                    "connecting",
                    "authenticating",
                    "ready",
                    "backoff",
                    "closed",
                ],
            },
            "since": _ISO_OR_NULL,
            "reconnects": _COUNT,
            "last_error": {"type": ["string", "null"]},
        },
    },
    "Database": {
        "type": "object",
        "description": "The batched call-record writer.",
        "required": ["ok"],
        "properties": {
            "ok": {"type": "boolean"},
            "pending": {**_COUNT, "description": "records waiting to be written"},
            "written": {**_COUNT, "description": "records written since start"},
            "last_error": {"type": ["string", "null"]},
        },
    },
    "Health": {
        "type": "object",
        "description": (
            "Liveness of the daemon's parts. When read tokens are configured, a request without "
            "a valid one gets only `status`."
        ),
        "required": ["status"],
        "properties": {
            "status": {
                "type": "string",
                "enum": ["ok", "degraded", "down"],
                "description": "ok: all parts up; degraded: AMI link not ready; down: no database",
            },
            "ami": _ref("AmiLink"),
            "database": _ref("Database"),
            "journal": {"type": "object", "description": "The raw AMI journal."},
        },
    },
    "LiveCall": {
        "type": "object",
        "description": "A citizen call in progress.",
        "required": ["call_id", "state"],
        "properties": {
            "call_id": {"type": "string", "examples": ["pbx1:1795490233.12"]},
            "state": {"type": "string", "enum": ["ivr", "waiting", "talking"]},
            "kind": {"type": "string", "enum": ["citizen", "survey"]},
            "caller": {
                "type": ["string", "null"],
                "description": "masked: first 3 and last 2 digits kept",
                "examples": ["139******78"],
            },
            "queue": {"type": ["string", "null"]},
            "agent": {"type": ["string", "null"]},
            "ivr_path": {"type": "array", "items": {"type": "string"}},
            "since": {**_ISO_OR_NULL, "description": "when the current state began"},
            "seconds": {"type": ["number", "null"], "description": "seconds in the state"},
        },
    },
    "Totals": {
        "type": "object",
        "required": ["ivr", "waiting", "talking"],
        "properties": {"ivr": _COUNT, "waiting": _COUNT, "talking": _COUNT},
    },
    "Queue": {
        "type": "object",
        "required": ["name", "waiting"],
        "properties": {
            "name": {"type": "string"},
            "waiting": _COUNT,
            "longest_wait_s": {"type": "number", "minimum": 0},
            "members": _COUNT,
            "available": _COUNT,
        },
    },
    "Agent": {
        "type": "object",
        "required": ["name", "interface", "state"],
        "properties": {
            "name": {"type": "string"},
            "interface": {"type": "string", "examples": ["Local/8001@agents/n"]},
            "queues": {"type": "array", "items": {"type": "string"}},
            "state": {
                "type": "string",
                "enum": ["available", "busy", "paused", "unavailable", "ringing", "unknown"],
            },
        },
    },
    "Today": {
        "type": "object",
        "description": "Today's figures in the reporting time zone.",
        "required": ["date", "offered", "answered", "abandoned"],
        "properties": {
            "date": {"type": "string", "format": "date"},
            "offered": {**_COUNT, "description": "calls that entered a queue"},
            "answered": _COUNT,
            "abandoned": {**_COUNT, "description": "caller left the queue first"},
            "by_outcome": {
                "type": "object",
                "additionalProperties": _COUNT,
                "description": "finished calls by call-record outcome",
            },
            "service_level": {
                "type": ["number", "null"],
                "minimum": 0,
                "maximum": 1,
                "description": "answered within the service-level threshold / offered",
            },
            "asa_s": {"type": ["number", "null"], "description": "average speed of answer"},
            "aht_s": {"type": ["number", "null"], "description": "average handling time"},
        },
    },
    "Status": {
        "type": "object",
        "required": ["pbx", "now", "calls", "totals", "queues", "agents", "today"],
        "properties": {
            "pbx": {"type": "string"},
            "now": _ISO,
            "link": _ref("AmiLink"),
            "calls": {"type": "array", "items": _ref("LiveCall")},
            "totals": _ref("Totals"),
            "queues": {"type": "array", "items": _ref("Queue")},
            "agents": {"type": "array", "items": _ref("Agent")},
            "today": _ref("Today"),
        },
    },
}

_RESPONSES: Final[dict[str, Any]] = {
    "Unauthorized": {
        **_json(_ref("Error"), "No bearer token, or one that is not configured."),
        "headers": {
            "WWW-Authenticate": {"schema": {"type": "string"}, "description": "`Bearer …`"}
        },
    },
    "InternalError": _json(_ref("Error"), "A bug; details are in the daemon's log."),
}

_READ: Final[list[dict[str, list[str]]]] = [{"bearerAuth": []}]
_PUBLIC: Final[list[Any]] = []
_ERRORS: Final = {"500": {"$ref": "#/components/responses/InternalError"}}
_AUTH_ERRORS: Final = {"401": {"$ref": "#/components/responses/Unauthorized"}, **_ERRORS}

_PATHS: Final[dict[str, Any]] = {
    "/healthz": {
        "get": {
            "operationId": "getHealth",
            "summary": "Liveness and readiness of the daemon",
            "description": "No token needed. 200 while `status` is ok or degraded, 503 when down.",
            "security": _PUBLIC,
            "responses": {
                "200": _json(_ref("Health"), "Up (ok or degraded)."),
                "503": _json(_ref("Health"), "Down."),
                **_ERRORS,
            },
        }
    },
    "/api/status": {
        "get": {
            "operationId": "getStatus",
            "summary": "Live calls, queues, agents and today's figures",
            "security": _READ,
            "responses": {"200": _json(_ref("Status"), "The live picture."), **_AUTH_ERRORS},
        }
    },
    "/metrics": {
        "get": {
            "operationId": "getMetrics",
            "summary": "Prometheus metrics (text exposition format 0.0.4)",
            "security": _READ,
            "responses": {
                "200": {
                    "description": "Metric families, `hotline_*`.",
                    "content": {"text/plain; version=0.0.4": {"schema": {"type": "string"}}},
                },
                **_AUTH_ERRORS,
            },
        }
    },
    "/api/openapi.json": {
        "get": {
            "operationId": "getOpenApi",
            "summary": "This document",
            "security": _PUBLIC,
            "responses": {
                "200": _json({"type": "object"}, "The OpenAPI document."),
                **_ERRORS,
            },
        }
    },
}

_DOCUMENT: Final[dict[str, Any]] = {
    "openapi": OPENAPI_VERSION,
    "info": {
        "title": "hotline status API",
        "version": "1",
        "description": (
            "The daemon's HTTP API beside one PBX: health, live status, metrics. "
            "Endpoints marked with bearerAuth need `Authorization: Bearer <token>` when the "
            "daemon is configured with read tokens (a write token also grants read); without "
            'configured tokens they are open. Every error body is `{"error": "…"}`.'
        ),
    },
    "paths": _PATHS,
    "components": {
        "securitySchemes": {
            "bearerAuth": {
                "type": "http",
                "scheme": "bearer",
                "description": "A read or write token from the daemon's `[http]` config.",
            }
        },
        "schemas": _SCHEMAS,
        "responses": _RESPONSES,
    },
}


def openapi_document() -> dict[str, Any]:
    """A fresh copy of the OpenAPI document (callers may add paths and schemas to it)."""
    # Through JSON rather than deepcopy: no subtree is shared, so editing one operation's
    # `security` list cannot change another's.
    result: dict[str, Any] = json.loads(json.dumps(_DOCUMENT))
    return result


__all__ = ["OPENAPI_VERSION", "openapi_document"]
