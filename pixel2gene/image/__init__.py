"""Image geometry: rescaling to the target resolution and the tissue mask."""

SUPERPIXEL = 16  # pixels of the rescaled image per superpixel side (8 µm at 0.5 µm/px)
PAD_MULTIPLE = 256
