"""models/losses."""
