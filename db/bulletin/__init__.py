"""The quarterly bulletin (季度通报): each unit's quarterly score and the ranking, frozen when sent,
and published on the public page."""
