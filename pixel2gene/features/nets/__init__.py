"""Network definitions used by the encoders (our own code, no torchvision)."""
