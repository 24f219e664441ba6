"""Files: atomic writes, the GeoPackage point reader and writer."""
