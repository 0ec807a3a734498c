"""Each hub route declared once, beside its handler: the Sanic route and its OpenAPI operation.

A module of the hub makes one ``RouteTable`` and decorates its handlers::

    routes = RouteTable(tags=["department API"], path_parameters={"handoff_id": HANDOFF_ID})

    @routes.route(
        "/api/handoffs/<handoff_id:int>/resolve",
        "POST",
        summary="Resolve a handoff",
        request={"required": True, "content": {"application/json": {"schema": ...}}},
        responses={"200": json_spec("The updated handoff.", schema_ref("Handoff"))},
    )
    async def resolve(request: Request, handoff_id: int) -> HTTPResponse: ...

The path is written once, in Sanic's syntax; ``add_to(app)`` registers the handlers, and
bot/hub/openapi.py assembles ``/api/openapi.json`` from the same declarations
(``paths``), as bot/hub/app.py reads from them what each route accepts as its body
(``body_types``). A handler serving several methods stacks one ``route`` per method.

Path parameters (``<handoff_id:int>``) are described once per table (``path_parameters``)
and land in the OpenAPI path item; one the table does not describe must be among the
operation's own ``parameters``. Nothing here imports the hub's page modules: they import it.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sanic import Sanic
from sanic.response import HTTPResponse

from bot.hub.openapi_parts import Spec  # a piece of the OpenAPI document, as JSON data
from bot.hub.web import FORM_TYPES  # the form types a browser sends: a form route takes both

Handler = Callable[..., Awaitable[HTTPResponse | None]]
H = TypeVar("H", bound=Handler)

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
_PARAMETER = re.compile(r"<(\w+)(?::[^>]*)?>")


def openapi_path(path: str) -> str:
    """A Sanic path as OpenAPI writes it: ``/a/<id:int>/b`` is ``/a/{id}/b``."""
    return _PARAMETER.sub(r"{\1}", path)


def path_parameter_names(path: str) -> list[str]:
    """The names of a Sanic path's parameters, in the order they appear."""
    return _PARAMETER.findall(path)


@dataclass(frozen=True)
class Operation:
    """One method of one route: the handler Sanic calls and the OpenAPI operation it is."""

    path: str  # Sanic's syntax: /api/handoffs/<handoff_id:int>/resolve
    method: str  # upper case
    handler: Handler
    name: str | None  # Sanic's route name (the handler's name when None)
    spec: Spec  # the OpenAPI operation object
    path_parameters: tuple[Spec, ...] = ()  # described on the OpenAPI path item
    unquote: bool = False  # Sanic matches the path as sent, then unquotes its parameters

    @property
    def openapi_path(self) -> str:
        return openapi_path(self.path)

    def body_types(self) -> tuple[str, ...]:
        """The content types this operation takes as a body (none: it takes no body)."""
        content = (self.spec.get("requestBody") or {}).get("content") or {}
        kinds = tuple(content)
        if any(k in FORM_TYPES for k in kinds):
            kinds = tuple(dict.fromkeys(kinds + FORM_TYPES))
        return kinds


@dataclass
class RouteTable:
    """The routes of one hub module, each declared with ``route`` beside its handler.

    ``tags`` are the OpenAPI tags of every operation that names none of its own;
    ``path_parameters`` describe the path parameters of the table's routes by name;
    ``schemas`` are component schemas its operations refer to (``schema_ref``).
    """

    tags: Sequence[str] | None = None
    path_parameters: Mapping[str, Spec] = field(default_factory=dict)
    schemas: Mapping[str, Spec] = field(default_factory=dict)
    operations: list[Operation] = field(default_factory=list, init=False)

    def route(
        self,
        path: str,
        method: str = "GET",
        *,
        name: str | None = None,
        summary: str,
        responses: Mapping[str, Spec],
        description: str | None = None,
        tags: Sequence[str] | None = None,
        operation_id: str | None = None,
        security: Sequence[Spec] | None = None,
        parameters: Sequence[Spec] = (),
        request: Spec | None = None,
        unquote: bool = False,
    ) -> Callable[[H], H]:
        """Declare ``handler`` as serving ``method`` on ``path``, described as given.

        ``request`` is the OpenAPI ``requestBody``; ``parameters`` are the query, header
        and (when the table does not describe them) path parameters of this operation.
        ``unquote`` is Sanic's: match the path as sent, then unquote the parameters (an id
        that may hold a quoted "/").
        """
        method = method.upper()
        if method not in METHODS:
            raise ValueError(f"{path}: unknown method {method!r}")
        described = {p["name"] for p in parameters if p.get("in") == "path"}
        item_parameters = []
        for parameter in path_parameter_names(path):
            if parameter in self.path_parameters:
                item_parameters.append(dict(self.path_parameters[parameter]))
            elif parameter not in described:
                raise ValueError(f"{method} {path}: path parameter {parameter!r} is not described")
        spec: Spec = {}
        tags = tags if tags is not None else self.tags
        optional: Iterable[tuple[str, Any]] = (
            ("tags", list(tags) if tags is not None else None),
            ("summary", summary),
            ("description", description),
            ("operationId", operation_id),
            ("security", list(security) if security is not None else None),
            ("parameters", list(parameters) or None),
            ("requestBody", request),
            ("responses", dict(responses)),
        )
        for key, value in optional:
            if value is not None:
                spec[key] = value

        def declare(handler: H) -> H:
            self.operations.append(
                Operation(path, method, handler, name, spec, tuple(item_parameters), unquote)
            )
            return handler

        return declare

    def add_to(self, app: Sanic) -> None:
        """Register the table's routes on ``app``: one Sanic route per handler and path."""
        routes: dict[tuple[Handler, str], list[Operation]] = {}
        for operation in self.operations:
            routes.setdefault((operation.handler, operation.path), []).append(operation)
        for (handler, path), operations in routes.items():
            names = {o.name for o in operations if o.name is not None}
            if len(names) > 1:
                raise ValueError(f"{path}: one route, several names {sorted(names)}")
            unquote = {o.unquote for o in operations}
            if len(unquote) > 1:
                raise ValueError(f"{path}: one route, unquoted for some methods only")
            app.add_route(
                handler,
                path,
                methods=[o.method for o in reversed(operations)],  # as the decorators read
                name=names.pop() if names else handler.__name__,
                unquote=unquote.pop(),
            )


def paths(tables: Iterable[RouteTable]) -> dict[str, Spec]:
    """The OpenAPI ``paths`` of every operation of ``tables`` (copies: safe to change)."""
    found: dict[str, Spec] = {}
    item_parameters: dict[str, tuple[Spec, ...]] = {}
    for table in tables:
        for operation in table.operations:
            where = operation.openapi_path
            item = found.setdefault(where, {})
            if item_parameters.setdefault(where, operation.path_parameters) != (
                operation.path_parameters
            ):
                raise ValueError(f"{where}: its operations describe its path parameters apart")
            if operation.path_parameters:
                item["parameters"] = copy.deepcopy(list(operation.path_parameters))
            method = operation.method.lower()
            if method in item:
                raise ValueError(f"{operation.method} {where} is declared twice")
            item[method] = copy.deepcopy(operation.spec)
    return found


def schemas(tables: Iterable[RouteTable]) -> dict[str, Spec]:
    """The component schemas of ``tables``; a name given twice must mean the same schema."""
    found: dict[str, Spec] = {}
    for table in tables:
        for name, schema in table.schemas.items():
            if found.setdefault(name, schema) != schema:
                raise ValueError(f"two route tables describe the schema {name!r} apart")
    return copy.deepcopy(found)


def body_types(tables: Iterable[RouteTable]) -> dict[tuple[str, str], tuple[str, ...]]:
    """What each operation takes as its body, keyed by (METHOD, OpenAPI path with no slashes
    at either end); an operation that takes no body is left out."""
    return {
        (o.method, o.openapi_path.strip("/")): o.body_types()
        for table in tables
        for o in table.operations
        if o.body_types()
    }
