"""The fixtures the fuzz tests share with the admin and router tests."""

from tests.admin.conftest import gpt, providers  # noqa: F401
from tests.autorouter.conftest import router_db  # noqa: F401
