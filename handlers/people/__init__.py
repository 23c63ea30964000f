"""Chat flows of people and roles: invite links, revocation, /whoami, who holds which role and
handovers.
"""
