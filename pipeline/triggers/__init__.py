"""What starts runs: model and upstream changes, manifests, backfills, and metric watch with its alerts."""
