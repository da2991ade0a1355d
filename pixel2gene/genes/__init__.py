"""Choosing the genes to predict."""
