"""EGMS products: the format, point ids, the statistics recipe, import and export."""
