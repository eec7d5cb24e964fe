"""Drift watch: cut logged outputs into windows, check each against the reference, name the pattern, alert."""
