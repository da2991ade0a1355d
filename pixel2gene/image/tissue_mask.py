"""Step 2: which superpixels hold tissue.

Glass is bright and unsaturated, tissue absorbs light (optical density) and is
stained (saturation); pen marks and dust are dark and colourless. A threshold
found by Otsu on the optical density, kept within sane bounds, then small
islands removed and small holes filled, works across scanners; users with a
better mask give it instead.

Fat is tissue too, but an adipocyte's inside is as clear as glass: only its
thin membrane is stained, so a fat lobule looks, superpixel by superpixel,
like glass crossed by a faint net. Spots over fat are measured like any other
(an ST or Visium spot there has adipocyte and stromal expression), so a mask
that leaves fat out gives them no prediction at all (and a scorer that sums a
spot's superpixels then sees an all-zero spot). The clear holes of a net of
textured superpixels that reaches the tissue are therefore kept when each is
no wider than a large adipocyte (`enclosed_fat`): a lumen or a tear of that
size is kept too, which costs a few superpixels of glass inside the section,
where a missed lobule of fat costs every spot over it. Pale tissue is told
from glass by its difference from the glass's own colour, since some scanners
tint the glass pink.

A speck of dust or debris far off the section would get predictions, a dot on
every map and a spot in the .h5ad, so small pieces far from the section are
dropped (`drop_far_specks`, a rule fixed a priori): a piece of the section
itself, a tear or a second core, is either large or close to the rest.
"""
import math

import cv2
import numpy as np

from ..errors import InputError

OD_FLOOR, OD_CEIL = 0.08, 0.6
# grey-level spread within a superpixel that glass does not have (HER2ST C2-C4: 99 % of glass superpixels
# under 0.016, tinted glass included), and a membrane crossing a clear superpixel does
TEXTURED = 0.04

# Fixed a priori, not tuned on any score. On HER2ST C2-C4 the small pieces of tissue are 20-41 superpixels
# at most 72 µm from the section (kept); on the 10x heart fixture a 50-superpixel speck lies about 1.1 mm
# off it at the image edge (dropped).
SPECK_SHARE = 0.01        # a speck is under 1 % of the largest piece of tissue ...
MAIN_SHARE = 0.1          # ... (the pieces of at least 10 % of the largest are the section) ...
SPECK_DISTANCE_UM = 500   # ... and more than half a millimetre from the section

# Fixed a priori from histology, not tuned on any score: breast and subcutaneous adipocytes are 50-150 µm
# across, a few up to 200 µm; a clear hole enclosed by a stained net is fat when it is at most this wide.
ADIPOCYTE_UM = 250


def optical_density(rgb: np.ndarray) -> np.ndarray:
    return -np.log(np.clip(rgb, 1 / 255, 1)).mean(axis=-1)


def otsu(values: np.ndarray, bins: int = 256) -> float:
    hist, edges = np.histogram(values, bins=bins)
    centres = (edges[:-1] + edges[1:]) / 2
    w0 = np.cumsum(hist)
    w1 = w0[-1] - w0
    m0 = np.cumsum(hist * centres) / np.maximum(w0, 1)
    m1 = (np.sum(hist * centres) - np.cumsum(hist * centres)) / np.maximum(w1, 1)
    between = w0 * w1 * (m0 - m1) ** 2
    return float(centres[int(np.argmax(between))])


def detect_tissue(rgb: np.ndarray, texture: np.ndarray, min_island: int = 20, pale: bool = True,
                  superpixel_um: float = 8.0) -> np.ndarray:
    """Tissue superpixels; `pale=False` keeps only clearly stained ones (no hysteresis, no fat)."""
    od = optical_density(rgb)
    sat = rgb.max(-1) - rgb.min(-1)
    threshold = float(np.clip(otsu(od[np.isfinite(od)]), OD_FLOOR, OD_CEIL))
    stained = (sat > 0.04) | (texture > TEXTURED)
    tissue = (od > threshold) & stained
    if pale:  # hysteresis: pale tissue (loose stroma, fat, sparse cells) is kept where it touches clear tissue
        # pale means unlike the glass too, not merely coloured: some scanners tint the glass as pink as loose
        # stroma, and a section of mostly fat and stroma pulls the threshold down to the glass's own density
        off_glass = (np.abs(rgb - glass_colour(rgb, texture, od, threshold)).max(-1) > 0.04) | (texture > TEXTURED)
        weak = (od > max(OD_FLOOR / 2, threshold / 2)) & stained & off_glass
        tissue = tissue | _connected_to(weak, tissue)
        tissue = tissue | enclosed_fat(tissue, texture > TEXTURED, superpixel_um)
    tissue &= ~((rgb.mean(-1) < 0.12) & (sat < 0.1))  # black debris, pen, scanner edges
    m = tissue.astype(np.uint8)
    kernel = np.ones((3, 3), np.uint8)
    m = cv2.morphologyEx(m, cv2.MORPH_CLOSE, kernel)
    m = cv2.morphologyEx(m, cv2.MORPH_OPEN, kernel)
    return fill_small_holes(remove_small_islands(m.astype(bool), min_island), 4 * min_island)


def glass_colour(rgb: np.ndarray, texture: np.ndarray, od: np.ndarray, threshold: float) -> np.ndarray:
    """The background's colour: the median of the smooth superpixels below the tissue threshold (the glass, and
    the clear inside of adipocytes, which is the same); near-white when there are none."""
    smooth = (texture < TEXTURED / 4) & (od < threshold)
    if smooth.sum() < 16:
        return np.full(3, 0.95, np.float32)
    return np.median(rgb[smooth], axis=0).astype(np.float32)


def enclosed_fat(tissue: np.ndarray, textured: np.ndarray, superpixel_um: float) -> np.ndarray:
    """Fat: the net of textured superpixels reaching `tissue` (adipocyte membranes; texture, not colour, since
    some scanners tint the glass as pink as a membrane), closed over one-superpixel
    gaps where a membrane only grazes a superpixel, and the clear holes it encloses, each at most an
    adipocyte wide. Holes are 4-connected, so a membrane crossing superpixels diagonally still closes them."""
    net = _connected_to(textured, tissue)
    closed = cv2.morphologyEx(net.astype(np.uint8), cv2.MORPH_CLOSE, np.ones((3, 3), np.uint8)).astype(bool)
    most = math.pi * (ADIPOCYTE_UM / 2 / superpixel_um) ** 2
    n, labels, stats, _ = cv2.connectedComponentsWithStats((~closed).astype(np.uint8), connectivity=4)
    h, w = closed.shape
    x, y, bw, bh = (stats[:, k] for k in range(4))
    inside = (x > 0) & (y > 0) & (x + bw < w) & (y + bh < h)  # a hole touching the border is open glass
    hole = inside & (stats[:, cv2.CC_STAT_AREA] <= most)
    hole[0] = False  # label 0: the net itself
    holes = hole[labels] & ~closed
    if not holes.any():
        return np.zeros_like(tissue)
    grown = cv2.dilate(holes.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    return holes | (closed & grown)


def drop_far_specks(mask: np.ndarray, superpixel_um: float):
    """(mask without small pieces far from the section, how many were dropped)."""
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    if n <= 2:
        return mask, 0
    area = stats[:, cv2.CC_STAT_AREA].astype(np.int64)
    area[0] = 0
    largest = int(area.max())
    main = (area >= MAIN_SHARE * largest)[labels]
    away_um = cv2.distanceTransform((~main).astype(np.uint8), cv2.DIST_L2, 5) * superpixel_um
    speck = np.zeros(n, bool)
    for i in np.flatnonzero((area > 0) & (area < SPECK_SHARE * largest)):
        x, y, w, h = stats[i, :4]  # the piece's bounding box: only its own superpixels are read
        box = labels[y:y + h, x:x + w] == i
        speck[i] = float(away_um[y:y + h, x:x + w][box].min()) > SPECK_DISTANCE_UM
    return mask & ~speck[labels], int(speck.sum())


def _connected_to(candidates: np.ndarray, seeds: np.ndarray) -> np.ndarray:
    n, labels = cv2.connectedComponents((candidates | seeds).astype(np.uint8), connectivity=8)
    hit = np.zeros(n, bool)
    hit[np.unique(labels[seeds])] = True
    hit[0] = False
    return hit[labels]


def remove_small_islands(mask: np.ndarray, min_size: int) -> np.ndarray:
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    keep = np.zeros(n, bool)
    keep[1:] = stats[1:, cv2.CC_STAT_AREA] >= min_size
    return keep[labels]


def fill_small_holes(mask: np.ndarray, max_size: int) -> np.ndarray:
    holes = ~remove_small_islands(~mask, max_size + 1)
    return mask | (holes & ~mask)


def load_user_mask(path, grid_shape, content_shape) -> np.ndarray:
    """A user mask: at grid size, or at the image's aspect ratio (nonzero = tissue).

    `content_shape` is the part of the grid covered by the unpadded image; a
    mask drawn on the image is resized onto it, so padding never stretches it.
    """
    from ..io.image_reader import ImageReader
    from ..io.outputs import read_user_npy
    path = str(path)
    if path.endswith(".npy"):
        m = read_user_npy(path)
    else:
        m = ImageReader(path).read_all()
    if m.ndim == 3:
        m = m.max(axis=2)
    if m.ndim != 2 or min(m.shape) == 0:
        raise InputError(path, f"mask has shape {m.shape}, not an image", "give a 2-D mask (nonzero = tissue)")
    gh, gw = grid_shape
    out = np.zeros((gh, gw), bool)
    if m.shape == (gh, gw):
        out[:] = m > 0
    else:
        ch, cw = content_shape
        if abs(m.shape[0] / m.shape[1] - ch / cw) > 0.02 * (ch / cw):
            raise InputError(path, f"mask is {m.shape[1]}x{m.shape[0]} px, which matches neither the "
                                   f"image's aspect ratio nor the {gw}x{gh} superpixel grid",
                             "give a mask of the H&E's shape (nonzero = tissue)")
        small = cv2.resize((m > 0).astype(np.float32), (cw, ch), interpolation=cv2.INTER_AREA)
        out[:ch, :cw] = small >= 0.5
    if not out.any():
        raise InputError(path, "mask marks no tissue", "mark tissue with nonzero pixels")
    return out
