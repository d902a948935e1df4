"""Load, fold, save: the per-batch engine every service runs on."""
