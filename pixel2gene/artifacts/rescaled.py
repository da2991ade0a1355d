"""p2g-rescale's folder: the H&E at the target resolution, the bins' locations on it, and the sample's record."""
from .base import Json, Npy, Parquet, StepFolder


class Rescaled(StepFolder):
    STEP = "rescale"
    image = Npy("image.npy")          # (H, W, 3) uint8, padded to whole tiles, read as a memory map
    locs = Parquet("locs.parquet")    # measured samples: bin id -> x, y in rescaled pixels
    record = Json("sample.json")      # name, files, pixel sizes, scale, bin diameter, shapes

    @property
    def sample(self) -> dict:
        """The sample's record (read once)."""
        if getattr(self, "_sample", None) is None:
            self._sample = self.record.read()
        return self._sample

    @property
    def name(self) -> str:
        return self.sample["name"]
