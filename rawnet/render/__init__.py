"""Renderers: take result objects, return text or JSON-ready dicts, or write files."""
