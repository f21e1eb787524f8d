"""The hand-written runtime of sage_accounting. The generator never writes here.

Generated code, and the SDK's own apps (``cli``, ``agents``, ``testing``, ``sync``, ``scale``),
import the runtime from this module only, never from one of its ``_modules``; users import from
``sage_accounting``. What needs
pydantic (models' base classes and field types) is loaded on first use, so that importing the
package costs little more than importing httpx.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from . import wire
from ._client import DEFAULT_BASE_URL, AsyncClient, SyncClient
from ._encoding import loads
from ._env import ACCESS_TOKEN as ENV_ACCESS_TOKEN
from ._env import BASE_URL as ENV_BASE_URL
from ._env import env
from ._errors import (
    APIConnectionError,
    APIResponseValidationError,
    APIStatusError,
    APITimeoutError,
    ArgumentTypeError,
    ArgumentValueError,
    AuthenticationError,
    BadRequestError,
    BusinessMismatchError,
    ClientClosedError,
    ConflictError,
    DailyLimitReached,
    DailyQuotaExceededError,
    DailyRateLimitError,
    ErrorDetail,
    InternalServerError,
    MissingBusinessHeaderError,
    MissingBusinessHeaderWarning,
    MissingExtraError,
    NoActiveSubscriptionError,
    NotFoundError,
    OAuthError,
    OutOfOrderError,
    PermissionDeniedError,
    QuotaBackendError,
    QuotaExceededError,
    RateLimitError,
    ReauthorizationRequired,
    RedirectError,
    RequestValidationError,
    SageArgumentError,
    SageError,
    StateMismatchError,
    UnprocessableEntityError,
    UntrustedURLError,
    missing_extra,
)
from ._files import replacing, replacing_text, write_atomic
from ._hooks import Hold, HoldingHook, RequestHook
from ._inflect import plural, singular
from ._limits import RateLimit
from ._operation import Operation, QueryKind, QueryParam, all_operations, with_headers
from ._options import RequestOptions
from ._page import Page
from ._pagination import (
    AUTO_PAGE_SIZE,
    AsyncPager,
    PageWalk,
    SyncPager,
    WalkPoint,
    page_number,
    page_of_body,
    with_page_size,
)
from ._prepare import PreparedRequest, is_within, refused_header
from ._quota import (
    Ask,
    LimitStatus,
    MemoryBackend,
    Quota,
    QuotaBackend,
    QuotaHook,
    QuotaLimits,
    QuotaStatus,
    Verdict,
    Window,
)
from ._redact import redact, remember
from ._resource import AsyncAPIResource, SyncAPIResource
from ._response import (
    APIResponse,
    async_to_raw_page,
    async_to_raw_response,
    request_id_of,
    to_raw_page,
    to_raw_response,
)
from ._streaming import (
    AsyncFileOpening,
    AsyncFileStream,
    FileStream,
    async_to_streamed,
    to_streamed,
)
from ._surface import SageClient
from ._version import __version__

if TYPE_CHECKING:
    from ._auth import AuthorizationRequest, OAuthApp, OAuthSession
    from ._changes import AsyncChangeFeed, Change, ChangeFeed, ChangePoll
    from ._models import RequestModel, SageModel
    from ._tokens import FileTokenStore, MemoryTokenStore, TokenSet, TokenStore, TokenStoreError
    from ._types import LenientDate, LenientDateTime, RequestDecimal

_LAZY = {
    "AsyncChangeFeed": "._changes",
    "Change": "._changes",
    "ChangeFeed": "._changes",
    "ChangePoll": "._changes",
    "AuthorizationRequest": "._auth",
    "OAuthApp": "._auth",
    "OAuthSession": "._auth",
    "FileTokenStore": "._tokens",
    "MemoryTokenStore": "._tokens",
    "TokenSet": "._tokens",
    "TokenStore": "._tokens",
    "TokenStoreError": "._tokens",
    "RequestModel": "._models",
    "SageModel": "._models",
    "LenientDate": "._types",
    "LenientDateTime": "._types",
    "RequestDecimal": "._types",
}


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(module, __name__), name)


__all__ = [
    "APIResponseValidationError",
    "ArgumentTypeError",
    "ArgumentValueError",
    "ClientClosedError",
    "MissingBusinessHeaderError",
    "MissingBusinessHeaderWarning",
    "MissingExtraError",
    "OutOfOrderError",
    "RedirectError",
    "RequestValidationError",
    "SageArgumentError",
    "UntrustedURLError",
    "DEFAULT_BASE_URL",
    "APIResponse",
    "AsyncChangeFeed",
    "Change",
    "ChangeFeed",
    "ChangePoll",  # a change feed's steps, for a walker of its own (the database sync)
    "AuthorizationRequest",
    "FileTokenStore",
    "MemoryTokenStore",
    "NoActiveSubscriptionError",
    "OAuthApp",
    "OAuthError",
    "OAuthSession",
    "RateLimit",
    "DailyLimitReached",
    "DailyQuotaExceededError",
    "DailyRateLimitError",
    "LimitStatus",
    "MemoryBackend",
    "Quota",
    "QuotaBackend",
    "QuotaBackendError",
    "QuotaExceededError",
    "QuotaLimits",
    "QuotaStatus",
    "Ask",  # the ledger's steps, for a backend of one's own (the agents' budgets are one)
    "Verdict",
    "Window",
    "StateMismatchError",
    "TokenSet",
    "TokenStore",
    "TokenStoreError",
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
    "Operation",
    "QueryKind",
    "PreparedRequest",
    "all_operations",
    "AsyncFileOpening",
    "AsyncFileStream",
    "FileStream",
    "async_to_raw_page",
    "async_to_raw_response",
    "async_to_streamed",
    "to_raw_page",
    "to_raw_response",
    "to_streamed",
    "Page",
    "PermissionDeniedError",
    "QueryParam",
    "RateLimitError",
    "ReauthorizationRequired",
    "RequestDecimal",
    "RequestModel",
    "RequestHook",
    "HoldingHook",
    "Hold",
    "QuotaHook",
    "RequestOptions",
    "SageClient",
    "SageError",
    "SageModel",
    "SyncAPIResource",
    "SyncClient",
    "SyncPager",
    "UnprocessableEntityError",
    "__version__",
    "with_headers",
    # For the SDK's apps: exact-decimal JSON, Sage's wire facts (``wire``: headers, envelope
    # keys, page caps, timestamps), the one page walk, where the token may go, the request id,
    # the environment, secrets, resource names' singular and plural, files replaced all at once.
    "AUTO_PAGE_SIZE",
    "PageWalk",
    "WalkPoint",
    "is_within",
    "page_number",
    "page_of_body",
    "request_id_of",
    "wire",
    "with_page_size",
    "missing_extra",
    "ENV_ACCESS_TOKEN",
    "ENV_BASE_URL",
    "env",
    "loads",
    "plural",
    "redact",
    "refused_header",
    "remember",
    "replacing",
    "replacing_text",
    "singular",
    "write_atomic",
]
