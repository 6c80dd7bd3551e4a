"""Training: the model's initial state, batches of pixels, and the optimisation loop."""
