"""The order gate: everything between an order tool call and the broker.

One order request, start to finish::

    tools/orders.py  submit_order(...)
      -> service.OrderGate         entry point; owns state files, task group, approval page
      -> values.OrderRequest       what the tool asked for
      -> intent.OrderIntent        canonical order + digest (target.py for replace/cancel)
      -> guards.check_order        pure checks on facts.py's fresh facts -> stable code
      -> records.ledger            today's usage reserved atomically
      -> confirm.ConfirmationGate  a human answers: elicitation or approval_page.py
      -> steps.OrderSteps          guards again, confirmation consumed (tracks.py keeps the books)
      -> delivery.send             journal (fsync) -> broker, exactly once; reconcile on restart
      -> records.audit             every decision, durably

Nothing the model sends can satisfy the confirmation: it is bound to the digest, single use.
"""
