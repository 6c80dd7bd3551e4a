"""NeuralAtlases: layered neural atlases for consistent video editing.

Pipeline, by folder (lower layers never import higher ones):
``io`` (frames, videos, project layout) -> ``preprocess`` (flow, masks, initial transforms)
-> ``model`` (grids, fields, losses) -> ``training`` -> ``baking`` (dense uv/alpha maps and atlas
textures) -> ``editing`` (render, frame edits, export) -> ``cli``.
"""

__version__ = "0.1.0"
