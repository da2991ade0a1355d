"""Importers: 10x Genomics outputs (Visium, Visium HD, Xenium) -> a sample folder in the seed layout."""
