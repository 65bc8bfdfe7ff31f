"""Unpaired datasets: folders, the synthetic demo set, transforms and the named zoo."""
