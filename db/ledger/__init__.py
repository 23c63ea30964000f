"""The rectification ledger (整改台账): items, their steps with evidence, and drafts of updates and
inspections.
"""
