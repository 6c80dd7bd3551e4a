"""The studio: a local web page that paints on any frame or atlas of a trained project and shows
every frame follow (``neural-atlases studio``).

``edits`` (strokes into atlases, undo) -> ``frames`` (what the page receives of a frame) ->
``session`` (one project's edit, saving) -> ``server`` (HTTP, its safety checks) -> ``assets``
(the page: WebGL preview, brush).
"""
