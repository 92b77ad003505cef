"""The published schema describes the mapping-profile endpoints: their bodies, answers and the
transformation types the importer takes."""

from drf_spectacular.generators import SchemaGenerator

from batch.files.transforms import TYPES


def test_mapping_profile_endpoints_are_described():
    openapi = SchemaGenerator().get_schema(request=None, public=True)
    paths, schemas = openapi["paths"], openapi["components"]["schemas"]

    create = paths["/v1/batch/mapping-profiles"]["post"]
    propose = paths["/v1/batch/mapping-profiles/propose"]["post"]
    one = paths["/v1/batch/mapping-profiles/{key}"]

    assert create["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/MappingProfileInput"
    }
    assert {"201", "400", "409"} <= create["responses"].keys()
    assert set(schemas["MappingProfileInput"]["required"]) == {"entity", "name", "columns"}
    form = propose["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert form["required"] == ["file", "entity"]
    assert set(one) == {"get", "put", "delete"}
    assert "204" in one["delete"]["responses"]
    assert schemas["Transformation"]["properties"]["type"]["enum"] == list(TYPES)
