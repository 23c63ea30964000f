"""The chat runtime that handlers and jobs share: one update's turn and replies, settings,
services, i18n, rendering, callback data, notices and the office's checks.
"""
