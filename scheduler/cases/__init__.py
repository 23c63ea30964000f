"""Jobs that keep reports moving: idle drafts closed, unrated answers closed."""
