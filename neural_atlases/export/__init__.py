"""Export for compositing tools."""
