"""Training data (bins -> superpixel disks) and the fold-ensemble trainer."""
