"""The OpenAPI 3.1 document, generated from the endpoint table and the pydantic models.

:mod:`telephony.api.routes` declares every endpoint once (:class:`Endpoint`: method, path, access,
query and body models, responses); the server registers its handlers from that table and this
module builds ``/api/openapi.json`` from the same table, with the schemas pydantic generates. The
error answers follow from the declaration: 400 where there is something to validate, 401 on
every guarded endpoint, 403 on writes — all with the :class:`~telephony.api.models.ErrorBody`.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from aiohttp import web
from pydantic import BaseModel
from pydantic.json_schema import JsonSchemaMode, models_json_schema

from telephony.api.auth import Access
from telephony.api.models import ErrorBody

OPENAPI_VERSION: Final = "3.1.0"
REF: Final = "#/components/schemas/{model}"

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass(frozen=True, slots=True)
class Answer:
    """One documented response: a model (JSON) or a media type with a plain schema."""

    status: int
    description: str
    model: type[BaseModel] | None = None
    media_type: str = "application/json"
    schema: dict[str, Any] | None = None
    also: tuple[tuple[str, dict[str, Any]], ...] = ()  # more media types, with their schemas


@dataclass(frozen=True, slots=True)
class Endpoint:
    """One operation of the API, as registered and as documented."""

    method: Literal["GET", "POST", "PATCH", "DELETE"]
    path: str  # aiohttp/OpenAPI template, e.g. /api/calls/{call_id}
    name: str  # operationId and aiohttp route name
    summary: str
    access: Access
    handler: Handler
    answers: tuple[Answer, ...]
    query: type[BaseModel] | None = None
    body: type[BaseModel] | None = None
    path_params: dict[str, str] = field(default_factory=dict)
    tag: str = "status"
    path_schemas: dict[str, dict[str, Any]] = field(default_factory=dict)  # default: a string

    @property
    def validates(self) -> bool:
        """Whether the request has parts that can be wrong (so a 400 is possible)."""
        return bool(self.query or self.body or self.path_params)


def _error(status: int, description: str) -> Answer:
    return Answer(status, description, ErrorBody)


def _all_answers(endpoint: Endpoint) -> list[Answer]:
    answers = list(endpoint.answers)
    have = {a.status for a in answers}
    implied = []
    if endpoint.validates:
        implied.append(_error(400, "bad request: names the field and the reason"))
    if endpoint.access is not Access.PUBLIC:
        implied.append(_error(401, "missing or invalid bearer token"))
    if endpoint.access is Access.WRITE:
        implied.append(_error(403, "the token may not write"))
    answers += [a for a in implied if a.status not in have]
    return sorted(answers, key=lambda a: a.status)


def _query_parameters(model: type[BaseModel], defs: dict[str, Any]) -> list[dict[str, Any]]:
    schema = model.model_json_schema(mode="validation", ref_template=REF)
    defs.update(schema.pop("$defs", {}))
    required = set(schema.get("required", []))
    params = []
    for name, prop in schema.get("properties", {}).items():
        prop = _without_null(prop)
        description = prop.pop("description", None)
        prop.pop("title", None)
        param: dict[str, Any] = {
            "name": name,
            "in": "query",
            "required": name in required,
            "schema": prop,
        }
        if description:
            param["description"] = description
        params.append(param)
    return params


def _without_null(prop: dict[str, Any]) -> dict[str, Any]:
    """A query parameter is absent rather than null: drop the null branch and null default."""
    prop = dict(prop)
    branches = [b for b in prop.get("anyOf", []) if b != {"type": "null"}]
    if "anyOf" in prop and len(branches) == 1:
        del prop["anyOf"]
        prop = {**branches[0], **prop}
    if "default" in prop and prop["default"] is None:
        del prop["default"]
    return prop


def openapi_document(endpoints: Iterable[Endpoint], *, title: str, version: str) -> dict[str, Any]:
    """The OpenAPI 3.1 document of `endpoints`."""
    endpoints = list(endpoints)
    wanted: list[tuple[type[BaseModel], JsonSchemaMode]] = []
    for ep in endpoints:
        for answer in _all_answers(ep):
            if answer.model is not None:
                wanted.append((answer.model, "serialization"))
        if ep.body is not None:
            wanted.append((ep.body, "validation"))
    wanted = list(dict.fromkeys(wanted))
    refs, top = models_json_schema(wanted, ref_template=REF)
    schemas: dict[str, Any] = dict(top.get("$defs", {}))

    paths: dict[str, dict[str, Any]] = {}
    for ep in endpoints:
        operation: dict[str, Any] = {
            "operationId": ep.name,
            "summary": ep.summary,
            "tags": [ep.tag],
        }
        if ep.handler.__doc__:
            operation["description"] = inspect.cleandoc(ep.handler.__doc__)
        params: list[dict[str, Any]] = [
            {
                "name": name,
                "in": "path",
                "required": True,
                "description": text,
                "schema": ep.path_schemas.get(
                    name, {"type": "string", "minLength": 1, "maxLength": 200}
                ),
            }
            for name, text in ep.path_params.items()
        ]
        if ep.query is not None:
            params += _query_parameters(ep.query, schemas)
        if params:
            operation["parameters"] = params
        if ep.body is not None:
            operation["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": refs[(ep.body, "validation")]}},
            }
        if ep.access is not Access.PUBLIC:
            operation["security"] = [{"bearer": []}]
        responses: dict[str, Any] = {}
        for answer in _all_answers(ep):
            if answer.model is not None:
                schema = refs[(answer.model, "serialization")]
            else:
                schema = answer.schema or {"type": "string"}
            content = {answer.media_type: {"schema": schema}}
            content.update({media: {"schema": extra} for media, extra in answer.also})
            responses[str(answer.status)] = {"description": answer.description, "content": content}
        operation["responses"] = responses
        paths.setdefault(ep.path, {})[ep.method.lower()] = operation

    return {
        "openapi": OPENAPI_VERSION,
        "info": {
            "title": title,
            "version": version,
            "description": (
                "The supervisor API of hotline: live status, call records, KPIs, writes. "
                'Errors are JSON bodies {"error": "…"}. Citizens\' numbers are masked unless '
                "the bearer token may see them."
            ),
        },
        "paths": dict(sorted(paths.items())),
        "components": {
            "schemas": dict(sorted(schemas.items())),
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
    }


_TEMPLATE: Final = re.compile(r"\{([^}]+)\}")


def path_params_of(path: str) -> list[str]:
    """The ``{name}`` parameters of a path template."""
    return _TEMPLATE.findall(path)


__all__ = ["Answer", "Endpoint", "Handler", "openapi_document", "path_params_of"]
