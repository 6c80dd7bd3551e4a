"""The model: dense grids, fields (mapping, atlas, shares), losses, and the layered model."""
