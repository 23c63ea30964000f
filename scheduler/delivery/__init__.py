"""Delivery: the outbox sender with its pace, and the broadcast delivery reports."""
