"""Reports and their handling cases: the state machine, storing and applying it, drafts, receipts,
categories, search and handling figures.
"""
