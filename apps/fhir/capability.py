"""The CapabilityStatement: written from the same tables the server obeys (the search
parameters, the export's types), so it says exactly what is served."""

from typing import Any

from apps.fhir import export, resources
from apps.fhir.search import SEARCH_PARAMETERS

SOFTWARE = "MyMedic"
RELEASE_DATE = "2026-12-02"


def _resource(resource_type: str) -> dict[str, Any]:
    body: dict[str, Any] = {
        "type": resource_type,
        "interaction": [{"code": "read"}],
        "versioning": "no-version",
        "readHistory": False,
        "updateCreate": False,
    }
    parameters = SEARCH_PARAMETERS.get(resource_type)
    if parameters is not None:
        body["interaction"].append({"code": "search-type"})
        body["searchParam"] = [
            {"name": name, "type": kind, "documentation": text}
            for name, (kind, text) in parameters.items()
        ]
    if resource_type == "Encounter":
        body["operation"] = [
            {
                "name": "document",
                "definition": "http://hl7.org/fhir/OperationDefinition/Composition-document",
                "documentation": "The visit's OP consultation record as a document Bundle.",
            }
        ]
    return body


def statement(base: str) -> dict[str, Any]:
    tenant = resources.current_tenant()
    types = [*SEARCH_PARAMETERS, "Organization"]
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": RELEASE_DATE,
        "publisher": SOFTWARE,
        "kind": "instance",
        "software": {"name": SOFTWARE},
        "implementation": {"description": f"{tenant.name}: FHIR R4 facade", "url": base},
        "fhirVersion": resources.FHIR_VERSION,
        "format": ["json"],
        "rest": [
            {
                "mode": "server",
                "documentation": "Read-only; every read of a patient is audited.",
                "security": {
                    "cors": False,
                    "description": "`Authorization: Token <key>` from POST /api/v1/auth/token/; "
                    "each role sees what it sees in the JSON API.",
                },
                "resource": [_resource(name) for name in types],
                "operation": [
                    {
                        "name": "export",
                        "definition": "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/export",
                        "documentation": "Owners and managers; `_type` among "
                        f"{', '.join(export.EXPORT_TYPES)}, `_since`; NDJSON files.",
                    }
                ],
            }
        ],
    }
