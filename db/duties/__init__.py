"""Duties (Obligation → Submission): due rules, creating and reviewing, filing, drafts, the status
matrix and the duty figures.
"""
