"""MIT-BIH single-beat image classifiers."""
