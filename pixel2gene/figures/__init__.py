"""Pictures of a sample: a downscaled H&E, gene maps over it, overviews of mask, QC and folds."""
