"""GoTrue-compatible auth stand-in (`python -m standins.auth`).

Implements the parts of Supabase Auth's HTTP API that the stack's clients use:
health, settings, signup, password and refresh-token grants, user get/update,
logout and the admin user endpoints, with GoTrue's JSON shapes and error codes.
"""
