"""Chat flows of duties: the office sets and reviews them; units file periodic reports and self-
checks.
"""
