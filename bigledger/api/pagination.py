from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response


class EnvelopePagination(PageNumberPagination):
    """Pages in the API's envelope: {"success": true, "data": [...], "pagination": {...}}."""

    page_size_query_param = "pageSize"
    max_page_size = 500

    def get_paginated_response(self, data):
        return Response(
            {
                "success": True,
                "data": data,
                "pagination": {
                    "page": self.page.number,
                    "pageSize": self.get_page_size(self.request),
                    "totalRecords": self.page.paginator.count,
                    "totalPages": self.page.paginator.num_pages,
                    "next": self.get_next_link(),
                    "previous": self.get_previous_link(),
                },
            }
        )

    def get_paginated_response_schema(self, schema: dict) -> dict:
        """The envelope above in the OpenAPI schema, around `schema` (the page's rows)."""
        integer, link = {"type": "integer"}, {"type": "string", "nullable": True, "format": "uri"}
        return self.envelope_schema(
            schema,
            {
                "type": "object",
                "properties": {
                    "page": integer,
                    "pageSize": integer,
                    "totalRecords": integer,
                    "totalPages": integer,
                    "next": link,
                    "previous": link,
                },
            },
        )

    @staticmethod
    def envelope_schema(rows: dict, pagination: dict) -> dict:
        """The envelope in the OpenAPI schema: `rows` as its data, `pagination` beside them."""
        return {
            "type": "object",
            "required": ["success", "data", "pagination"],
            "properties": {
                "success": {"type": "boolean", "enum": [True]},
                "data": rows,
                "pagination": pagination,
            },
        }
