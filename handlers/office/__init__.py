"""The campaign office's tools: the admin menu, units, categories, calendar, campaign, broadcasts,
WeCom robots, digest, exports and the audit trail.
"""
