"""Shadow runs: production requests replayed (or mirrored) to a candidate and compared with what was served."""
