"""Domain errors. Messages are French: they reach users. The API maps each to one status."""


class AssistantError(Exception):
    status_code = 500


class IndexNotReady(AssistantError):
    status_code = 503


class LLMUnavailable(AssistantError):
    status_code = 502


class DocumentNotFound(AssistantError):
    status_code = 404


class InvalidInput(AssistantError):
    status_code = 422


class StorageError(AssistantError):
    status_code = 507
