"""Quality control of measured bins and the spatial folds."""
