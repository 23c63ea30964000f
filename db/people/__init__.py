"""People and the units they serve: accounts, invites and role grants, departments."""
