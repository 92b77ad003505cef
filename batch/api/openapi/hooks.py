"""The drf-spectacular postprocessing hook: the generic `POST /v1/batch/{entity}` becomes one
path per registered entity, each with its own request body, beside the batch and webhook
components; the file endpoints' {entity} lists the registered entities."""

import copy

from batch.api.openapi.blocks import ref
from batch.api.openapi.components import (
    component_name,
    entity_components,
    shared_components,
    webhook_components,
)
from batch.api.openapi.profiles import profile_components
from batch.engine.handlers import Handler, registered_handlers

GENERIC_BATCH_PATH = "/v1/batch/{entity}"


def entity_operation(generic: dict, handler: type[Handler]) -> dict:
    operation = copy.deepcopy(generic)
    name = component_name(handler.entity)
    operation["operationId"] = f"batch_{handler.entity.replace('-', '_')}"
    operation["summary"] = f"Batch of {handler.entity}"
    operation["description"] = (
        f"Operations: {', '.join(sorted(handler.operations))}. At most "
        f"{handler.max_records} per sync batch; larger batches go with options.async."
    )
    operation["parameters"] = [
        p for p in operation.get("parameters", []) if (p["in"], p["name"]) != ("path", "entity")
    ]
    operation["requestBody"] = {
        "required": True,
        "content": {"application/json": {"schema": ref(f"{name}BatchRequest")}},
    }
    return operation


def list_entities(paths: dict, entities: list[str]) -> None:
    """The {entity} of the file imports and templates names one of `entities` (any other is
    a 404)."""
    for path, operations in paths.items():
        if path == GENERIC_BATCH_PATH:
            continue
        for operation in operations.values():
            for parameter in operation.get("parameters", []):
                if (parameter["in"], parameter["name"]) == ("path", "entity"):
                    parameter["schema"] = {"type": "string", "enum": entities}


def postprocess_batch_schema(result, generator, request, public):
    """drf-spectacular hook: add the batch components and one path per entity."""
    schemas = result.setdefault("components", {}).setdefault("schemas", {})
    schemas.update(copy.deepcopy(shared_components()))
    schemas.update(copy.deepcopy(webhook_components()))
    schemas.update(copy.deepcopy(profile_components()))
    handlers = sorted(registered_handlers().items())
    for _, handler in handlers:
        schemas.update(copy.deepcopy(entity_components(handler)))
    list_entities(result.get("paths", {}), [entity for entity, _ in handlers])
    generic = result.get("paths", {}).pop(GENERIC_BATCH_PATH, None)
    if generic is not None:
        for entity, handler in handlers:
            operation = entity_operation(generic["post"], handler)
            result["paths"][f"/v1/batch/{entity}"] = {"post": operation}
        result["paths"] = dict(sorted(result["paths"].items()))
    return result
