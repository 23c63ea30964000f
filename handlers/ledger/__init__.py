"""Chat flows of the rectification ledger (整改台账): items, their progress and evidence,
inspections and the office's review.
"""
