"""Accuracy against measured truth: bin-level correlations, map SSIM, RMSE."""
