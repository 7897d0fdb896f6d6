"""Routers, one per resource; web.py holds the server-rendered pages."""
