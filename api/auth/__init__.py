"""Who is calling and what they may do: authentication, roles and scopes, and their enforcement."""
