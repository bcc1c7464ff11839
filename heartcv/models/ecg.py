"""ECG-image models of the five-class 12-lead printout paper."""
