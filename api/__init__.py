"""The HTTP API: runs, their event streams, approvals decided by authenticated people.

python -m api serve                      # on AGENT_API_PORT (default 8000)
python -m api token mint alice --role approver --role supervisor
python -m api token revoke <token id>
"""

from api.app import create_app
from api.service import Service
from api.tokens import Identity, TokenStore

__all__ = ["Identity", "Service", "TokenStore", "create_app"]
