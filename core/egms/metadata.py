"""Layer metadata of an imported EGMS product: GDAL metadata items and the QGIS metadata document.

:func:`write_layer_metadata` stores, on the GeoPackage layer the import wrote,
the ``EGMS_*`` items of :meth:`.product.ProductInfo.metadata_items` (level,
track, burst(s), swath, orbit direction, release, version, source files, the
XML header) and a QGIS layer-metadata document (:func:`qgis_metadata_xml`:
title, abstract, keywords, extent, history) in the GeoPackage metadata tables,
where QGIS shows it under Layer Properties → Metadata.
"""

from __future__ import annotations

import datetime as dt
import os
import sqlite3
from xml.sax.saxutils import escape

from ..io.gpkg import ogr_modules


def write_layer_metadata(path, layer, metadata, info, sources, n_points, n_duplicates, extent):
    """GDAL metadata items on the layer, and a QGIS metadata document QGIS shows for the layer."""
    ogr, _osr = ogr_modules()
    ds = ogr.Open(path, update=1)
    lyr = ds.GetLayerByName(layer)
    for key, value in metadata.items():
        lyr.SetMetadataItem(key, value)
    ds = None
    xml = qgis_metadata_xml(info, sources, n_points, n_duplicates, extent)
    con = sqlite3.connect(path, isolation_level=None)
    try:
        cur = con.execute("INSERT INTO gpkg_metadata (md_scope, md_standard_uri, mime_type, metadata) "
                          "VALUES ('dataset', 'http://mrcc.com/qgis.dtd', 'text/xml', ?)", (xml,))
        stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")[:-4] + "Z"
        con.execute("INSERT INTO gpkg_metadata_reference (reference_scope, table_name, column_name, row_id_value, "
                    "timestamp, md_file_id, md_parent_id) VALUES ('table', ?, NULL, NULL, ?, ?, NULL)",
                    (layer, stamp, cur.lastrowid))
    finally:
        con.close()


def qgis_metadata_xml(info, sources, n_points, n_duplicates, extent):
    """A QGIS layer-metadata document (the format QGIS stores in GeoPackages) describing the import."""
    title = " + ".join(os.path.splitext(s.file_name)[0] for s in sources[:3]) + (" …" if len(sources) > 3 else "")
    abstract = (f"EGMS {info.describe()}. {n_points} measurement points imported from "
                f"{len(sources)} file(s)" + (f"; {n_duplicates} duplicate points (same pid) of overlapping "
                                             "bursts removed" if n_duplicates else "") +
                ". LOS displacement in mm (positive towards the satellite), velocities in mm/yr, "
                "coordinates EPSG:3035.")
    keywords = [f"EGMS {info.level}" if info.level else "EGMS"]
    for label, value in (("track", info.track and f"{info.track:03d}"), ("orbit", info.orbit),
                         ("release", info.release), ("tile", info.tile)):
        if value:
            keywords.append(f"{label} {value}")
    keywords += [f"burst {b:04d}" for b in info.bursts]
    history = [f"Imported {s.label} with egms:importegms" for s in sources]
    lines = [
        "<!DOCTYPE qgis PUBLIC 'http://mrcc.com/qgis.dtd' 'SYSTEM'>",
        '<qgis version="3.22">',
        f"  <identifier>{escape(title)}</identifier>",
        "  <parentidentifier></parentidentifier>",
        "  <language>en</language>",
        "  <type>dataset</type>",
        f"  <title>{escape(title)}</title>",
        f"  <abstract>{escape(abstract)}</abstract>",
        '  <keywords vocabulary="EGMS">',
        *[f"    <keyword>{escape(k)}</keyword>" for k in keywords],
        "  </keywords>",
        "  <links/>",
        "  <fees></fees>",
        "  <encoding></encoding>",
        "  <crs>",
        "    <spatialrefsys>",
        "      <authid>EPSG:3035</authid>",
        "    </spatialrefsys>",
        "  </crs>",
        "  <extent>",
        f'    <spatial dimensions="2" crs="EPSG:3035" minx="{extent[0]!r}" miny="{extent[1]!r}" '
        f'maxx="{extent[2]!r}" maxy="{extent[3]!r}" minz="0" maxz="0"/>',
        "  </extent>",
        *[f"  <history>{escape(h)}</history>" for h in history],
        "</qgis>",
    ]
    return "\n".join(lines) + "\n"
