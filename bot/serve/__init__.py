"""``icpbot serve``: a small web service on the engine and the hand-off. Operators queue runs
(JSON API, or their pages), watch them and pass the security checks; customers verify through
a link of their own. The queue lives in the ledger's database (:mod:`bot.serve.store`)."""

from bot.serve.server import ServeConfig, open_service, serve

__all__ = ["ServeConfig", "open_service", "serve"]
