"""The OpenAPI 3.1 description of the service (``GET /openapi.json``).

The request and response schemas are the JSON Schemas pydantic derives from the very
models that validate the requests (:mod:`align_cli.serve.schemas`), so the description
cannot drift from what is enforced; only the list of paths is written here. OpenAPI 3.1
uses JSON Schema 2020-12, which is what pydantic emits.
"""

from __future__ import annotations

from typing import Any

from pydantic.json_schema import models_json_schema

from align_cli.serve.schemas import (
    AlignRequest,
    AlignResponse,
    ErrorResponse,
    HealthResponse,
    TransferRequest,
    TransferResponse,
)
from align_cli.version import __version__

_REF = "#/components/schemas/{model}"


def _json(name: str, description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": _REF.format(model=name)}}},
    }


def _errors(*statuses: int) -> dict[str, Any]:
    why = {
        400: "Malformed JSON.",
        401: "Missing or wrong bearer token (when the service has one).",
        408: "The body did not arrive within the body timeout (limit body_timeout_s).",
        413: "Body or pair count over a limit (limit: max_body_bytes or max_pairs).",
        422: "Invalid fields, settings or segments (limit max_segment_chars when it is one).",
        503: "Queue full (Retry-After; limit max_queue_pairs) or shutting down.",
    }
    return {str(status): _json("ErrorResponse", why[status]) for status in statuses}


def openapi_document(*, token_required: bool) -> dict[str, Any]:
    """The whole description; ``token_required`` adds the bearer security scheme."""
    _, schemas = models_json_schema(
        [
            (model, "serialization" if model.__name__.endswith("Response") else "validation")
            for model in (
                AlignRequest,
                AlignResponse,
                TransferRequest,
                TransferResponse,
                ErrorResponse,
                HealthResponse,
            )
        ],
        ref_template=_REF,
    )
    guarded = [{"bearer": []}] if token_required else []
    model_errors = _errors(400, 401, 408, 413, 422, 503)
    document: dict[str, Any] = {
        "openapi": "3.1.0",
        "info": {
            "title": "xalign alignment service",
            "version": __version__,
            "description": "Word alignments from a translation model's cross-attention "
            "(xalign serve). Segments are strings (split on whitespace) or lists of words; "
            "links are (source word, target word), 0-based.",
        },
        "paths": {
            "/align": {
                "post": {
                    "summary": "Align a batch of sentence pairs",
                    "operationId": "align",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {"$ref": _REF.format(model="AlignRequest")}
                            }
                        },
                    },
                    "responses": {
                        "200": _json("AlignResponse", "Links, scores and words of every pair."),
                        **model_errors,
                    },
                    "security": guarded,
                }
            },
            "/transfer": {
                "post": {
                    "summary": "Carry inline tags from sources into their targets",
                    "operationId": "transfer",
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {"$ref": _REF.format(model="TransferRequest")}
                            }
                        },
                    },
                    "responses": {
                        "200": _json("TransferResponse", "Each target with its tags."),
                        **model_errors,
                    },
                    "security": guarded,
                }
            },
            "/health": {
                "get": {
                    "summary": "Liveness and readiness (never needs the token)",
                    "operationId": "health",
                    "responses": {
                        "200": _json("HealthResponse", "Live and ready."),
                        "503": _json("HealthResponse", "Live, not ready (shutting down)."),
                    },
                    "security": [],
                }
            },
            "/metrics": {
                "get": {
                    "summary": "Prometheus metrics (text exposition format)",
                    "operationId": "metrics",
                    "responses": {
                        "200": {
                            "description": "Requests, latency, batch sizes, queue depth.",
                            "content": {"text/plain": {"schema": {"type": "string"}}},
                        },
                        **_errors(401),
                    },
                    "security": guarded,
                }
            },
        },
        "components": {"schemas": schemas["$defs"]},
    }
    if token_required:
        document["components"]["securitySchemes"] = {"bearer": {"type": "http", "scheme": "bearer"}}
    return document
