"""translate/engine."""
