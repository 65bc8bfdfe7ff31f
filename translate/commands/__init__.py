"""translate/commands."""
