"""The hand-written runtime of sage_accounting. The generator never writes here.

Generated code imports from this module only; users import from ``sage_accounting``.
"""

from ._client import DEFAULT_BASE_URL, AsyncClient, SyncClient
from ._errors import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    BusinessMismatchError,
    ConflictError,
    ErrorDetail,
    InternalServerError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ReauthorizationRequired,
    SageError,
    UnprocessableEntityError,
)
from ._models import RequestModel, SageModel
from ._operation import OperationInfo, QueryParam
from ._pagination import AsyncPager, Page, SyncPager
from ._resource import AsyncAPIResource, SyncAPIResource
from ._types import LenientDate, LenientDateTime, RequestDecimal, RequestOptions
from ._version import __version__

__all__ = [
    "DEFAULT_BASE_URL",
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "AsyncAPIResource",
    "AsyncClient",
    "AsyncPager",
    "AuthenticationError",
    "BadRequestError",
    "BusinessMismatchError",
    "ConflictError",
    "ErrorDetail",
    "InternalServerError",
    "LenientDate",
    "LenientDateTime",
    "NotFoundError",
    "OperationInfo",
    "Page",
    "PermissionDeniedError",
    "QueryParam",
    "RateLimitError",
    "ReauthorizationRequired",
    "RequestDecimal",
    "RequestModel",
    "RequestOptions",
    "SageError",
    "SageModel",
    "SyncAPIResource",
    "SyncClient",
    "SyncPager",
    "UnprocessableEntityError",
    "__version__",
]
