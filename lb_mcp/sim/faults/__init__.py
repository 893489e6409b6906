"""Protocol faults beyond the socket basics (reliability.md §6 rows 3, 6, 7, 10).

:class:`~lb_mcp.sim.faults.plan.FaultPlan` holds them; the socket servers, the HTTP gateway
and the admin API (``POST /sim/admin/faults``) consult and set it.
"""

from lb_mcp.sim.faults.plan import FaultPlan, TradePushShaper

__all__ = ["FaultPlan", "TradePushShaper"]
