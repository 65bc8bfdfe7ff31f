"""models/sampling."""
