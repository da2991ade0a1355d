"""Reading the seed input layout and writing results safely."""
