"""Models checked against what happened next (forecast accuracy, recommendation outcomes, drift)."""
