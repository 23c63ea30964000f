"""The campaign office's records: the audit trail, the monthly digest, retention, campaigns and
phases.
"""
