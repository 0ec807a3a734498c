"""The route registry (bot/hub/registry.py): a route declared once is both a Sanic route and
an OpenAPI operation, and what it takes as a body is read from the same declaration."""

from __future__ import annotations

import itertools

import pytest
from sanic import Sanic
from sanic.request import Request
from sanic.response import HTTPResponse, empty

from bot.hub import registry, routes
from bot.hub.openapi import document
from bot.hub.openapi_parts import error_spec, json_spec
from bot.hub.registry import RouteTable

ITEM_ID = {"name": "item_id", "in": "path", "required": True, "schema": {"type": "integer"}}
FORM = {"content": {"application/x-www-form-urlencoded": {"schema": {"type": "object"}}}}
JSON_BODY = {"required": True, "content": {"application/json": {"schema": {"type": "object"}}}}
_apps = itertools.count(1)


def _table() -> RouteTable:
    table = RouteTable(tags=["things"], path_parameters={"item_id": ITEM_ID})

    @table.route(
        "/api/items/<item_id:int>",
        name="item_api",
        summary="Read an item",
        operation_id="readItem",
        responses={"200": json_spec("The item.", {"type": "object"})},
    )
    @table.route(
        "/api/items/<item_id:int>",
        "PUT",
        summary="Change an item",
        tags=["changes"],
        request=JSON_BODY,
        responses={"200": json_spec("Changed.", {"type": "object"})},
    )
    async def item_api(request: Request, item_id: int) -> HTTPResponse:
        return empty()

    @table.route(
        "/items/<item_id:int>/drop",
        "POST",
        summary="The drop button",
        request=FORM,
        responses={"303": {"description": "Back to the list."}},
    )
    async def drop_form(request: Request, item_id: int) -> HTTPResponse:
        return empty()

    @table.route(
        "/owners/<owner>",
        summary="An owner, whose id may hold a quoted /",
        parameters=[{"name": "owner", "in": "path", "required": True, "schema": {}}],
        responses={"200": {"description": "The owner."}},
        unquote=True,
    )
    async def owner_page(request: Request, owner: str) -> HTTPResponse:
        return empty()

    return table


def test_a_declared_route_is_registered_once_with_every_method_it_was_declared_for():
    app = Sanic(f"registry_test_{next(_apps)}")
    _table().add_to(app)

    found = {
        (r.name.split(".", 1)[1], "/" + r.path, frozenset(r.methods), r.unquote)
        for r in app.router.routes
    }

    assert found == {
        ("item_api", "/api/items/<item_id:int>", frozenset({"GET", "PUT"}), False),
        ("drop_form", "/items/<item_id:int>/drop", frozenset({"POST"}), False),
        ("owner_page", "/owners/<owner:str>", frozenset({"GET"}), True),
    }


def test_the_same_declaration_is_the_openapi_operation_with_the_tables_path_parameters():
    paths = registry.paths([_table()])

    item = paths["/api/items/{item_id}"]
    assert item["parameters"] == [ITEM_ID]
    assert item["get"] == {
        "tags": ["things"],
        "summary": "Read an item",
        "operationId": "readItem",
        "responses": {"200": json_spec("The item.", {"type": "object"})},
    }
    assert item["put"]["tags"] == ["changes"]  # its own tags over the table's
    assert item["put"]["requestBody"] == JSON_BODY
    assert "operationId" not in item["put"]
    assert set(paths["/items/{item_id}/drop"]) == {"parameters", "post"}
    assert set(paths["/owners/{owner}"]) == {"get"}


def test_assembled_paths_are_copies_the_document_may_change():
    table = _table()
    registry.paths([table])["/api/items/{item_id}"]["get"]["responses"]["404"] = error_spec("x")
    registry.paths([table])["/api/items/{item_id}"]["parameters"][0]["schema"]["maximum"] = 1

    again = registry.paths([table])["/api/items/{item_id}"]
    assert "404" not in again["get"]["responses"]
    assert again["parameters"] == [ITEM_ID] and "maximum" not in ITEM_ID["schema"]


def test_what_a_route_takes_as_its_body_comes_from_its_declaration():
    assert registry.body_types([_table()]) == {
        ("PUT", "api/items/{item_id}"): ("application/json",),
        # a form route takes both kinds of form a browser sends
        ("POST", "items/{item_id}/drop"): (
            "application/x-www-form-urlencoded",
            "multipart/form-data",
        ),
    }


def test_an_undescribed_path_parameter_is_refused_where_it_is_declared():
    table = RouteTable()
    with pytest.raises(ValueError, match="path parameter 'item_id' is not described"):
        table.route("/items/<item_id:int>", summary="An item", responses={})


def test_a_path_parameter_may_be_described_by_the_operation_itself():
    table = RouteTable()
    parameter = {"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}

    @table.route("/files/<name:path>", summary="A file", parameters=[parameter], responses={})
    async def serve(request: Request, name: str) -> HTTPResponse:
        return empty()

    item = registry.paths([table])["/files/{name}"]
    assert "parameters" not in item
    assert item["get"]["parameters"] == [parameter]


def test_the_same_method_and_path_declared_twice_is_refused():
    table = RouteTable()
    for _ in range(2):

        @table.route("/twice", summary="Twice", responses={})
        async def twice(request: Request) -> HTTPResponse:
            return empty()

    with pytest.raises(ValueError, match="GET /twice is declared twice"):
        registry.paths([table])


def test_the_hubs_document_is_assembled_from_its_route_tables_alone():
    doc = document(["billing", "sales"])
    declared = {
        (o.method.lower(), o.openapi_path) for table in routes.TABLES for o in table.operations
    }

    described = {(m, p) for p, item in doc["paths"].items() for m in item if m != "parameters"}
    assert described == declared
    # the department parameter lists the departments given; the app's body check reads the
    # same declarations
    assert doc["paths"]["/api/departments/{name}/handoffs"]["parameters"][0]["schema"]["enum"] == [
        "billing",
        "sales",
    ]
    assert registry.body_types(routes.TABLES)[("POST", "login")] == (
        "application/x-www-form-urlencoded",
        "multipart/form-data",
    )
