"""translate/metrics."""
