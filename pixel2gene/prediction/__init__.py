"""Running trained folds over every tissue superpixel, and writing the maps."""
