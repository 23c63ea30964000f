"""Chat flows of reports and cases: a citizen files and follows a report; the office triages; a
unit's liaisons sign, ask, answer and rate.
"""
