"""Re-write a simulated stack folder in the layouts real processors leave (test fixtures; not shipped).

Input: a stack folder as :func:`egms_plugin.core.sar.simulate.simulate_stack` writes it (DESIGN §5):
``YYYYMMDD.tif`` CFloat32 SLCs in a projected CRS, ``baselines.csv`` (``date,bperp``), ``stack.json``
(``wavelength_m``, ``incidence_deg``, ``heading_deg``, ``slant_range_m``, ``orbit``), optionally
``lat*``/``lon*``/``incidence*`` rasters.  Each writer re-writes the same pixels, dates, baselines and
geometry the way the processor does:

* :func:`write_snap_dimap` — ESA SNAP BEAM-DIMAP coregistered stack (Back-Geocoding / Create-Stack output,
  optionally terrain corrected with "Output complex data");
* :func:`write_isce2_topsstack` / :func:`write_isce2_stripmapstack` — ISCE2 ``stackSentinel.py`` /
  ``stackStripMap.py`` work folders;
* :func:`write_opera_cslc` — NASA OPERA CSLC-S1 HDF5 bursts (+ the static-layers file);
* :func:`write_multiband` — one GeoTIFF or VRT with one complex band per date.

Only numpy, GDAL (osgeo), rasterio, pyproj and h5py are used; nothing of the plugin, so the fixtures stay
valid while the readers are written against them.

What a reader must read from where
==================================

Common to all layouts (the plugin's conventions, DESIGN §5/§7; ``core/sar/simulate.py``): the SLC phase of a
scatterer is ``+4π/λ·(d + B⊥·Δh/(R·sinθ))`` with ``d`` positive towards the satellite, i.e. phase = −4π/λ·range
(assumed, not verified, for the SLCs of every processor below).  With that, the plugin's ``bperp`` is positive
when the secondary orbit lies, seen from the target, on the side of *smaller look angle* than the reference
(displaced along ``ê = v̂ × û`` for a right-looking sensor, ``û`` the unit vector target → reference satellite,
``v̂`` the reference velocity); the baselines below are stated relative to that sign.  Verified numerically
(flat geometry and the fixture orbits) in ``tests/core/sar/test_stack_layouts.py``.  Every layout uses the
*middle* date as reference unless ``reference_date`` is given.

SNAP BEAM-DIMAP (``<name>.dim`` + ``<name>.data/``)
--------------------------------------------------
* Bands: ``Image_Interpretation/Spectral_Band_Info``: ``BAND_INDEX``, ``BAND_NAME``, ``DATA_TYPE`` (``int16`` or
  ``float32``: Back-Geocoding copies the *reference* bands with their source type — int16 for a Sentinel-1 SLC
  straight from TOPSAR-Split — and writes *secondary* bands as float32; honour the type per band;
  senbox-org/s1tbx ``s1tbx-op-sentinel1/.../BackGeocodingOp.java`` createTargetProduct), ``PHYSICAL_UNIT``
  ``real`` (i) / ``imaginary`` (q) / ``intensity`` (virtual), ``NO_DATA_VALUE_USED``/``NO_DATA_VALUE`` (0.0);
  virtual bands carry ``VIRTUAL_BAND`` true + ``EXPRESSION`` and have no file (snap-engine
  ``snap-core/.../dataio/dimap/DimapHeaderWriter.java`` writeImageInterpretationElements/writeDataAccessElements).
* Band names: ``i_<swath>_<pol>_mst_<ddMonYYYY>``, ``q_…_mst_…`` for the reference, ``i_…_slv<k>_<ddMonYYYY>`` for
  secondary ``k`` = 1, 2 … in *input order* (not chronological; the reference may sit anywhere in time) —
  microwave-toolbox ``sar-op-sentinel1/src/main/java/eu/esa/sar/sentinel1/gpf/BackGeocodingOp.java``
  (``StackUtils.SLV + k + createBandTimeStamp``);
  newest SNAP renames ``_mst``/``_slv`` to ``_ref``/``_sec`` (snap-engine ``engine_utilities/gpf/StackUtils.java``
  REF/SEC, "legacy naming"); take the date from the band name, never from ``k``.  ``ddMonYYYY`` is
  ``SimpleDateFormat("ddMMMyyyy", Locale.ENGLISH)`` of ``first_line_time`` (``OperatorUtils.getAcquisitionDate``):
  ``06Jan2019``.
* Pixels: ``Data_Access/Data_File/DATA_FILE_PATH@href`` → ``<name>.data/<band>.hdr`` (relative to the .dim) with
  the raw ``<band>.img``: ENVI, one band, ``interleave = bsq``, ``byte order = 1`` (big-endian, "in Java always
  high byte first"), ``data type = 4`` float32 / ``2`` int16 (snap-engine ``dataio/dimap/EnviHeader.java``).  GDAL's
  ENVI driver opens the ``.img`` directly.  SLC = i + j·q.
* Size: ``Raster_Dimensions/NCOLS``, ``NROWS`` (``NBANDS`` counts virtual bands too).
* Wavelength: ``Dataset_Sources/MDElem[@name=metadata]/MDElem[@name=Abstracted_Metadata]/MDATTR[@name=radar_frequency]``
  in **MHz** (λ = c / (f·1e6)); ``PASS`` ``ASCENDING``/``DESCENDING``; ``antenna_pointing`` ``right``;
  ``first_line_time`` (``dd-MMM-yyyy HH:mm:ss.SSSSSS``, month upper case, ``ProductData.UTC.format``);
  ``slant_range_to_first_pixel`` (m), ``range_spacing`` (m), ``incidence_near``/``incidence_far`` (deg),
  ``centre_heading`` (deg clockwise from north, 0–360); ``Orbit_State_Vectors/orbit_vector<n>`` (time, x/y/z_pos,
  x/y/z_vel, ECEF m, m/s) — snap-engine ``engine_utilities/datamodel/AbstractMetadata.java``, and a real
  SNAP-written split product, microwave-toolbox ``sar-op-calibration/src/test/resources/*_split.dim``.
* Baselines: ``Abstracted_Metadata/MDElem[@name=Baselines]`` holds one ``Ref_<ddMonYYYY>`` element *per date* (every
  acquisition as reference, n × n, self-pair included), each with ``Secondary_<ddMonYYYY>`` children carrying
  float64 ``Perp Baseline`` (m), ``Temp Baseline`` (days, **reference minus secondary**: negative for later
  secondaries), ``Modelled Coherence``, ``Height of Ambiguity`` (m), ``Doppler Difference`` (Hz) — microwave-toolbox
  ``sar-op-insar/.../coregistration/CreateStackOp.java`` getBaselines (called by BackGeocodingOp
  updateTargetProductMetadata) with ``InSARStackOverview.IfgPair``.  Older SNAP (s1tbx ≤ 7) named them
  ``Master: <date>`` / ``Slave: <date>`` (senbox-org/s1tbx ``s1tbx-op-insar/.../coregistration/CreateStackOp.java``).
  Use ``Ref_<date of the mst bands>``.  ``Perp Baseline`` is the secondary's B⊥ relative to that reference at the
  reference's approximate scene centre, height 0, sign as jLinda/jDoris ``Baseline.compute_B_Bpar_Bperp_Theta``
  (used by ``InSARStackOverview``): positive when the secondary sees the point at a smaller look angle —
  **the plugin's sign** (``bperp_plugin = Perp Baseline``, up to a common constant).  Values are Java floats
  widened to double (``74.98091888427734``); the self-pair's ``Height of Ambiguity`` is ``Infinity``.
* Secondary metadata: ``MDElem[@name=Slave_Metadata]`` (newest SNAP: ``Secondary_Metadata``) with attribute
  ``Master_bands`` (space-separated reference i/q band names) and one element per secondary named
  ``<product name>_<ddMonYYYY>`` (a copy of its Abstracted_Metadata) with attribute ``Slave_bands`` (snap-engine
  ``StackUtils.saveMasterProductBandNames``/``saveSlaveProductNames``, BackGeocodingOp copySlaveMetadata).
* Geolocation, terrain-corrected stack: ``Coordinate_Reference_System/WKT`` and
  ``Geoposition/IMAGE_TO_MODEL_TRANSFORM`` = Java ``AffineTransform.getMatrix`` order ``sx, shy, shx, sy, x0, y0``
  with (x0, y0) the **outer corner** of pixel (0, 0); the ENVI headers also carry ``map info`` (reference pixel =
  image centre, 1-based) and ``coordinate system string`` (EnviHeader.writeMapProjectionInfo), so GDAL georeferences
  the ``.img`` (``DimapHeaderWriter`` writeGeoCoding(CrsGeoCoding)).  Complex bands survive terrain correction only
  with RangeDopplerGeocodingOp ``outputComplex`` = true.
* Geolocation, radar geometry: ``Tie_Point_Grids/Tie_Point_Grid_Info`` (``TIE_POINT_GRID_NAME`` ``latitude``,
  ``longitude`` (``CYCLIC`` true), ``incident_angle`` (deg), ``elevation_angle`` (deg), ``slant_range_time``
  (**ns**, two-way), ``NCOLS``, ``NROWS``, ``OFFSET_X``/``OFFSET_Y``, ``STEP_X``/``STEP_Y``): tie point (i, j) sits at
  image position (OFFSET_X + i·STEP_X, OFFSET_Y + j·STEP_Y) in pixel-corner coordinates (0.5 = centre of the first
  pixel); values in ``<name>.data/tie_point_grids/<grid>.img`` (ENVI float32 big-endian, NCOLS × NROWS);
  bilinear interpolation gives per-pixel values (``Geoposition/Geoposition_Points/TIE_POINT_GRID_NAME_LAT|LON``).
  A terrain-corrected stack has no tie-point grids here: incidence only from ``incidence_near``/``incidence_far``.
* Not written (a reader must not need them): ``Original_Product_Metadata`` content (left empty), the ``Band_<swath>_
  <pol>`` elements, ``Processing_Graph``, ``vector_data/``, per-band ``Geoposition`` blocks (real split products
  write one per band with ``BAND_INDEX`` — accept both).

ISCE2 topsStack (``stackSentinel.py`` work folder)
-------------------------------------------------
* SLCs: ``merged/SLC/<YYYYMMDD>/<YYYYMMDD>.slc.full`` — complex64 little-endian raw, one band (written by
  ``mergeBursts.py`` through ``gdal_translate -of ENVI -co INTERLEAVE=BIL``, hence GDAL's ENVI header
  ``<YYYYMMDD>.slc.hdr``), plus ``.slc.full.xml`` (ISCE ``imageFile``: ``width``, ``length``, ``data_type`` ``CFLOAT``,
  ``byte_order`` ``l``, ``scheme``, ``number_bands``) and ``.slc.full.vrt`` (``VRTRawRasterBand``, ``ByteOrder`` LSB,
  no georeferencing) — isce2 ``contrib/stack/topsStack/mergeBursts.py``, ``components/isceobj/Image/Image.py``
  renderHdr/renderVRT.  With ``--virtual_merge`` only the ``.vrt``/``.xml`` exist and the ``.vrt`` mosaics
  ``coreg_secondarys/<date>/IW*/burst_*.slc``; open ``.slc.full.vrt`` when present, else ``.slc.full``.
  The reference date's SLC is in the same place (``Stack.mergeReference``).
* Geometry: ``merged/geom_reference/{lat,lon,hgt}.rdr.full`` float64 (deg, deg, m above WGS84),
  ``los.rdr.full`` float32 two bands BIL: **band 1 incidence angle at the target from the vertical (deg, > 0), band 2
  azimuth angle of the target→satellite vector, from north, counter-clockwise positive (deg)** = 90° − heading for
  a right-looking sensor (≈ +102° ascending, ≈ −102° descending) — isce2 ``components/zerodop/topozero/Topozero.py``
  (losImage description, data types); MintPy ``src/mintpy/utils/utils0.py`` azimuth2heading_angle.  Also
  ``incLocal.rdr.full`` (2 × float32: angle at the sensor, local incidence) and ``shadowMask.rdr.full`` (byte).
  Same ``.xml``/``.vrt``/ENVI-header trio.  (Multilooked ``*.rdr`` siblings are not written here.)
* Baselines: ``baselines/<ref>_<sec>/<ref>_<sec>.txt`` (no file for the reference itself: its B⊥ is 0), text lines
  ``swath: IW2`` / ``Bperp (average): <m>`` / ``Bpar (average): <m>``, one triple per swath — isce2
  ``contrib/stack/topsStack/computeBaseline.py``; reader: MintPy ``src/mintpy/utils/isce_utils.py``
  read_tops_baseline (mean over swaths).  Sign: ``sign(((T − M) × (S − M)) · v_M)`` — **opposite to the plugin's**:
  ``bperp_plugin = −Bperp``.
* Wavelength, pass, timing: ``reference/IW2.xml`` (ISCE ProductManager dump of the reference swath):
  ``/productmanager_name/component[@name=instance]/component[@name=bursts]/component[@name=burst1]/
  property[@name=radarwavelength]/value`` (m), ``passdirection``, ``burststartutc``, ``startingrange``,
  ``rangepixelsize`` (MintPy isce_utils extract_tops_metadata reads the same via isce).  Only that subset is written.

ISCE2 stripmapStack (``stackStripMap.py`` work folder)
-----------------------------------------------------
* ``merged/SLC/<YYYYMMDD>/<YYYYMMDD>.slc`` (+ ``.xml``/``.vrt``; reference copied there by ``masterStackCopy.py``),
  ``merged/geom_reference/{lat,lon,hgt,los}.rdr`` (older versions ``geom_master``), baselines
  ``baselines/<ref>_<sec>.txt`` with ``PERP_BASELINE_BOTTOM <m>`` / ``PERP_BASELINE_TOP <m>`` — isce2
  ``contrib/stack/stripmapStack/Stack.py``, ``stackStripMap.py`` baselinePair; MintPy read_stripmap_baseline.
  Sign assumed as topsStack's (mroipac Baseline; not verified).

OPERA CSLC-S1 (folder of HDF5 files)
------------------------------------
* File name ``OPERA_L2_CSLC-S1_<T087-185683-IW2>_<YYYYMMDDTHHMMSS>Z_<production>Z_<S1A>_<VV>_v<1.1>.h5``; static
  layers ``OPERA_L2_CSLC-S1-STATIC_<burst>_<validity YYYYMMDD>_<S1A>_v1.0.h5``.
* Pixels ``/data/<pol>`` complex64 (HDF5 compound ``{r, i}`` little-endian float32, a committed named type
  ``/complex64`` at the root — without it netCDF, hence GDAL's netCDF driver, does not see the variable), gzip;
  ``grid_mapping`` = ``projection``; dimension scales ``/data/y_coordinates`` (dim 0), ``/data/x_coordinates``
  (dim 1) in metres: **pixel centres** (x0 + (j + ½)·dx), ``/data/x_spacing``, ``/data/y_spacing`` (negative);
  ``/data/projection`` int32 scalar = EPSG with attrs ``epsg_code``, ``spatial_ref`` (WKT1), ``grid_mapping_name``,
  ``utm_zone_number``… — copied from the real files in ``../shared/data/opera``.
* GDAL: ``HDF5:"<file>"://data/VV`` opens the pixels **without** geotransform/CRS (GDAL 3.6; identical for the real
  file); ``NETCDF:"<file>":/data/VV`` gives geotransform (outer corner = first centre − ½ spacing) and EPSG
  (opera-adt/COMPASS PR #121 "use NETCDF to correctly get geotransform and projection").  Or compute them from
  the coordinate arrays.
* Dates: ``/identification/zero_doppler_start_time`` (``YYYY-MM-DD HH:MM:SS.ffffff``) or the file name.
  Wavelength ``/metadata/processing_information/input_burst_metadata/wavelength`` (m); pass
  ``/identification/orbit_pass_direction`` (``Ascending``/``Descending``); burst ``/identification/burst_id``.
* Orbit ``/metadata/orbit/{time, position_x|y|z, velocity_x|y|z}`` (s relative to ``reference_epoch``; ECEF m,
  m/s).  No baseline is stored: B⊥ of a date = ``(S − M) · (v̂ × û)`` at the scene centre (zero-Doppler of each
  orbit, ``û`` target → reference satellite), which is the plugin's sign.  Static file: ``/data/los_east``,
  ``/data/los_north`` = east/north components of the unit vector **target → sensor** (up = √(1 − e² − n²)), as
  ``core.conventions.los_vector``.

Multi-band raster: band ``k`` = date ``k`` (band description ``YYYYMMDD``), ``baselines.csv``/``stack.json`` beside it.

What the fixtures assume (the simulated stack has no orbit): a circular orbit (GM = 3.986004418e14) through the
point at ``slant_range_m`` from the scene centre along the LOS given by ``incidence_deg``/``heading_deg``, flying
along the heading; every secondary orbit is the reference orbit shifted by ``bperp − bperp_ref`` along ``ê`` (so
the recovered B⊥ equals ``baselines.csv`` relative to the reference exactly, parallel baseline 0); acquisition
time 16:16:51.013157 UTC every date (the real OPERA burst's); track 87; heights 0 m.  The simulated pixels are
written unchanged in every layout, including the "radar geometry" ones.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import math
import os
import re
import shutil
from dataclasses import dataclass, field
from decimal import Decimal
from xml.sax.saxutils import escape, quoteattr

import numpy as np

__all__ = [
    "SourceStack", "read_source_stack", "orbit_model", "write_snap_dimap", "write_isce2_topsstack",
    "write_isce2_stripmapstack", "write_opera_cslc", "write_multiband", "snap_date", "plugin_bperp_sign",
]

SPEED_OF_LIGHT = 299_792_458.0
GM_EARTH = 3.986004418e14
WGS84_A = 6378137.0
WGS84_F = 1.0 / 298.257223563
WGS84_E2 = WGS84_F * (2.0 - WGS84_F)
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

# Sentinel-1 IW2 acquisition constants (from the real OPERA burst t087_185683_iw2 in ../shared/data/opera).
LINE_TIME_INTERVAL = 0.002055556299999998
RANGE_PIXEL_SPACING = 2.329562114715323
AZIMUTH_SPACING = 13.97
PRF_RAW = 1451.62711219399
RANGE_SAMPLING_RATE = 64345238.12571428
RANGE_BANDWIDTH = 48300000.0
SENSING_TIME = dt.time(16, 16, 51, 13157)
TRACK = 87
FIRST_DATE_ORBIT = 25516          # S1A absolute orbit of the first simulated date (175 orbits per 12 days)
STATE_VECTOR_STEP = 10.0
N_STATE_VECTORS = 13
ISCE_VERSION = "Release: 2.6.3, svn-, 20230418. Current: svn-."

_DATE_RE = re.compile(r"(?<!\d)(\d{8})(?!\d)")
_AUX_PREFIXES = ("lat", "lon", "incidence")


# ------------------------------------------------------------------------------------------------ input
@dataclass
class SourceStack:
    """A simulated stack folder, read (pixels on demand)."""

    folder: str
    dates: list                 # datetime.date, chronological
    paths: list
    bperp: np.ndarray           # m, one per date (zeros when baselines.csv is absent)
    geometry: dict              # stack.json
    rows: int
    cols: int
    crs: object = None          # rasterio CRS (None for lat/lon-only stacks)
    transform: object = None    # rasterio Affine
    aux: dict = field(default_factory=dict)   # "lat"/"lon"/"incidence" → path

    @property
    def date_strings(self):
        return [d.strftime("%Y%m%d") for d in self.dates]

    @property
    def wavelength(self):
        return float(self.geometry.get("wavelength_m", 0.0554657647))

    @property
    def incidence_deg(self):
        return float(self.geometry.get("incidence_deg", 39.0))

    @property
    def orbit(self):
        return str(self.geometry.get("orbit", "ascending")).lower()

    @property
    def heading_deg(self):
        if "heading_deg" in self.geometry:
            return float(self.geometry["heading_deg"])
        return -10.0 if self.orbit == "ascending" else 190.0

    @property
    def slant_range(self):
        return float(self.geometry.get("slant_range_m", 875000.0))

    def read(self, k):
        """SLC of date ``k``, complex64 (rows, cols)."""
        import rasterio

        with rasterio.open(self.paths[k]) as ds:
            return ds.read(1).astype(np.complex64)

    def latlon(self):
        """(lat, lon) float64 of every pixel centre (WGS84 deg), from lat*/lon* rasters or the CRS."""
        import rasterio

        if "lat" in self.aux and "lon" in self.aux:
            with rasterio.open(self.aux["lat"]) as a, rasterio.open(self.aux["lon"]) as b:
                return a.read(1).astype(np.float64), b.read(1).astype(np.float64)
        from pyproj import Transformer

        x, y = pixel_centres(self.transform, self.rows, self.cols)
        tr = Transformer.from_crs(self.crs.to_wkt(), "EPSG:4326", always_xy=True)
        lon, lat = tr.transform(x, y)
        return np.asarray(lat, dtype=np.float64), np.asarray(lon, dtype=np.float64)

    def incidence(self):
        """Incidence angle (deg) per pixel: the incidence* raster or the constant of stack.json."""
        import rasterio

        if "incidence" in self.aux:
            with rasterio.open(self.aux["incidence"]) as ds:
                return ds.read(1).astype(np.float64)
        return np.full((self.rows, self.cols), self.incidence_deg)

    def relative_bperp(self, ref):
        """B⊥ of every date relative to date index ``ref`` (plugin sign)."""
        return self.bperp - self.bperp[ref]

    def epsg(self):
        return None if self.crs is None else self.crs.to_epsg()


def read_source_stack(folder):
    """Read the stack folder written by ``simulate_stack`` (dates, paths, baselines, geometry, grid)."""
    import rasterio

    folder = os.fspath(folder)
    found, aux = {}, {}
    for name in sorted(os.listdir(folder)):
        path = os.path.join(folder, name)
        low = name.lower()
        if not os.path.isfile(path) or not low.endswith((".tif", ".tiff", ".vrt")):
            continue
        if low.startswith(_AUX_PREFIXES):
            aux[next(p for p in _AUX_PREFIXES if low.startswith(p))] = path
            continue
        m = _DATE_RE.search(name)
        if m:
            found[dt.datetime.strptime(m.group(1), "%Y%m%d").date()] = path
    if len(found) < 2:
        raise ValueError(f"{folder}: fewer than two dated SLC rasters")
    dates = sorted(found)
    bperp = np.zeros(len(dates))
    bfile = os.path.join(folder, "baselines.csv")
    if os.path.exists(bfile):
        with open(bfile, encoding="utf-8") as fh:
            table = {row["date"]: float(row["bperp"]) for row in csv.DictReader(fh)}
        bperp = np.array([table[d.strftime("%Y%m%d")] for d in dates])
    geometry = {}
    if os.path.exists(os.path.join(folder, "stack.json")):
        with open(os.path.join(folder, "stack.json"), encoding="utf-8") as fh:
            geometry = json.load(fh)
    with rasterio.open(found[dates[0]]) as ds:
        rows, cols, crs, transform = ds.height, ds.width, ds.crs, ds.transform
    return SourceStack(folder, dates, [found[d] for d in dates], bperp, geometry, rows, cols,
                       crs if crs else None, transform, aux)


# ------------------------------------------------------------------------------------------------ geometry
def pixel_centres(transform, rows, cols):
    """Map coordinates (x, y) of every pixel centre, each (rows, cols)."""
    jj, ii = np.meshgrid(np.arange(cols) + 0.5, np.arange(rows) + 0.5)
    a, b, c, d, e, f = transform.a, transform.b, transform.c, transform.d, transform.e, transform.f
    return a * jj + b * ii + c, d * jj + e * ii + f


def los_vector(incidence_deg, heading_deg):
    """Unit vector ground → satellite (east, north, up), right-looking (same as ``core.conventions.los_vector``)."""
    inc, head = np.deg2rad(incidence_deg), np.deg2rad(heading_deg)
    return -np.sin(inc) * np.cos(head), np.sin(inc) * np.sin(head), np.cos(inc)


def isce_azimuth_angle(heading_deg):
    """ISCE2 los band 2 for a right-looking sensor: 90° − heading, wrapped to [−180, 180)."""
    az = 90.0 - np.asarray(heading_deg, dtype=np.float64)
    return (az + 180.0) % 360.0 - 180.0


def geodetic_to_ecef(lat, lon, h):
    lat, lon = np.deg2rad(lat), np.deg2rad(lon)
    n = WGS84_A / np.sqrt(1.0 - WGS84_E2 * np.sin(lat) ** 2)
    return np.stack([(n + h) * np.cos(lat) * np.cos(lon), (n + h) * np.cos(lat) * np.sin(lon),
                     (n * (1.0 - WGS84_E2) + h) * np.sin(lat)], axis=-1)


def enu_basis(lat, lon):
    """Unit east, north, up vectors (ECEF) at a geodetic position."""
    la, lo = math.radians(lat), math.radians(lon)
    east = np.array([-math.sin(lo), math.cos(lo), 0.0])
    north = np.array([-math.sin(la) * math.cos(lo), -math.sin(la) * math.sin(lo), math.cos(la)])
    up = np.array([math.cos(la) * math.cos(lo), math.cos(la) * math.sin(lo), math.sin(la)])
    return east, north, up


def plugin_bperp_sign(target, ref_pos, ref_vel, sec_pos):
    """B⊥ with the plugin's sign: (S − M) · (v̂ × û), û = unit(M − T) (right-looking sensor)."""
    u = (ref_pos - target) / np.linalg.norm(ref_pos - target)
    v = ref_vel / np.linalg.norm(ref_vel)
    e = np.cross(v, u)
    return float(np.dot(sec_pos - ref_pos, e / np.linalg.norm(e)))


@dataclass
class OrbitModel:
    """The assumed reference orbit (circular) and the perpendicular shift of each date's orbit."""

    target: np.ndarray          # ECEF of the scene centre (height 0)
    m0: np.ndarray              # unit radius vector at t = 0
    w0: np.ndarray              # unit along-track vector at t = 0
    radius: float
    omega: float
    t_zero_doppler: float       # s, zero-Doppler time of the target on the reference orbit (≈ 0)
    e_perp: np.ndarray          # ê at the zero-Doppler point
    shifts: np.ndarray          # m, per date, along ê (= bperp − bperp_ref)
    look_angle_deg: float

    def state(self, t, k=None):
        """Position and velocity (ECEF) at times ``t`` (s from the scene-centre time) of date ``k`` (None = ref)."""
        t = np.atleast_1d(np.asarray(t, dtype=np.float64))
        c, s = np.cos(self.omega * t)[:, None], np.sin(self.omega * t)[:, None]
        pos = self.radius * (c * self.m0 + s * self.w0)
        vel = self.radius * self.omega * (-s * self.m0 + c * self.w0)
        if k is not None:
            pos = pos + self.shifts[k] * self.e_perp
        return pos, vel


def orbit_model(src, ref):
    """Circular reference orbit imaging the scene centre with the stack's incidence/heading/slant range."""
    lat, lon = src.latlon()
    lat0, lon0 = float(lat[src.rows // 2, src.cols // 2]), float(lon[src.rows // 2, src.cols // 2])
    target = geodetic_to_ecef(lat0, lon0, 0.0)
    east, north, up = enu_basis(lat0, lon0)
    le, ln, lu = los_vector(src.incidence_deg, src.heading_deg)
    m_pos = target + src.slant_range * (le * east + ln * north + lu * up)
    radius = float(np.linalg.norm(m_pos))
    m0 = m_pos / radius
    head = math.radians(src.heading_deg)
    vdir = math.sin(head) * east + math.cos(head) * north
    w0 = vdir - np.dot(vdir, m0) * m0
    w0 /= np.linalg.norm(w0)
    omega = math.sqrt(GM_EARTH / radius) / radius
    model = OrbitModel(target, m0, w0, radius, omega, 0.0, np.zeros(3), np.zeros(len(src.dates)), 0.0)
    t = 0.0
    for _ in range(50):  # zero Doppler: (P(t) − T) · V(t) = 0
        p, v = model.state(t)
        f = float(np.dot(p[0] - target, v[0]))
        df = float(np.dot(v[0], v[0]) - model.omega ** 2 * np.dot(p[0] - target, p[0]))
        step = f / df
        t -= step
        if abs(step) < 1e-12:
            break
    p, v = model.state(t)
    u = (p[0] - target) / np.linalg.norm(p[0] - target)
    e = np.cross(v[0] / np.linalg.norm(v[0]), u)
    model.t_zero_doppler = t
    model.e_perp = e / np.linalg.norm(e)
    model.shifts = src.relative_bperp(ref)
    cos_look = np.dot(p[0] / np.linalg.norm(p[0]), u)
    model.look_angle_deg = math.degrees(math.acos(cos_look))
    return model


def acquisition_times(src):
    """Per date: (sensing start, scene-centre time) as datetimes (UTC)."""
    out = []
    for d in src.dates:
        start = dt.datetime.combine(d, SENSING_TIME)
        out.append((start, start + dt.timedelta(seconds=LINE_TIME_INTERVAL * src.rows / 2.0)))
    return out


def state_vector_times(centre):
    """13 whole-second state-vector epochs, 10 s apart, around ``centre`` (as a POEORB file gives them)."""
    first = centre.replace(microsecond=0) - dt.timedelta(seconds=60)
    return [first + dt.timedelta(seconds=STATE_VECTOR_STEP * i) for i in range(N_STATE_VECTORS)]


def absolute_orbit(src, k):
    return FIRST_DATE_ORBIT + int(round((src.dates[k] - src.dates[0]).days * 175 / 12))


def _default_reference(src):
    return len(src.dates) // 2


def _reference_index(src, reference_date):
    if reference_date is None:
        return _default_reference(src)
    text = str(reference_date).replace("-", "")
    return src.date_strings.index(text)


# ------------------------------------------------------------------------------------------------ SNAP
def snap_date(d):
    """SNAP's band time stamp ``ddMMMyyyy`` (English month): ``06Jan2019``."""
    return f"{d.day:02d}{MONTHS[d.month - 1]}{d.year:04d}"


def snap_utc(t):
    """``ProductData.UTC.format``: ``06-JAN-2019 16:16:51.013157``."""
    return f"{t.day:02d}-{MONTHS[t.month - 1].upper()}-{t.year:04d} {t:%H:%M:%S}.{t.microsecond:06d}"


def jdouble(x):
    """Java ``Double.toString`` (what DIMAP writes for float64 attributes)."""
    x = float(x)
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    if x == 0.0:
        return "-0.0" if math.copysign(1.0, x) < 0 else "0.0"
    if 1e-3 <= abs(x) < 1e7:
        s = repr(x)
        if "e" in s:
            s = format(Decimal(s), "f")
        return s if "." in s else s + ".0"
    sign, digits, exponent = Decimal(repr(x)).normalize().as_tuple()
    digits = "".join(map(str, digits))
    exp10 = exponent + len(digits) - 1
    mantissa = digits[0] + "." + (digits[1:] or "0")
    return ("-" if sign else "") + mantissa + "E" + str(exp10)


def jfloat(x):
    """A Java float widened to double and printed (``(double) floatValue``)."""
    return jdouble(float(np.float32(x)))


class _Xml:
    """Indented XML text in the layout SNAP's XmlWriter produces (4 spaces)."""

    def __init__(self):
        self.lines = []

    def open(self, level, tag, **attrs):
        self.lines.append("    " * level + f"<{tag}{_attrs(attrs)}>")

    def close(self, level, tag):
        self.lines.append("    " * level + f"</{tag}>")

    def leaf(self, level, tag, text=None, **attrs):
        if text is None or text == "":
            self.lines.append("    " * level + f"<{tag}{_attrs(attrs)} />")
        else:
            self.lines.append("    " * level + f"<{tag}{_attrs(attrs)}>{escape(str(text))}</{tag}>")

    def raw(self, line):
        self.lines.append(line)

    def text(self):
        return "\n".join(self.lines) + "\n"


def _attrs(attrs):
    return "".join(f" {k.rstrip('_')}={quoteattr(str(v))}" for k, v in attrs.items())


# MDATTR of Abstracted_Metadata: (name, desc, unit, type) in the order addAbstractedMetadataHeader writes them
# (snap-engine AbstractMetadata.java; the real split product in microwave-toolbox sar-op-calibration tests).
_ABS_ATTRS = (
    ("PRODUCT", "Product name", "", "ascii"), ("PRODUCT_TYPE", "Product type", "", "ascii"),
    ("SPH_DESCRIPTOR", "Description", "", "ascii"), ("MISSION", "Satellite mission", "", "ascii"),
    ("ACQUISITION_MODE", "Acquisition mode", "", "ascii"), ("antenna_pointing", "Right or left facing", "", "ascii"),
    ("BEAMS", "Beams used", "", "ascii"), ("SWATH", "Swath name", "", "ascii"),
    ("PROC_TIME", "Processed time", "utc", "utc"),
    ("Processing_system_identifier", "Processing system identifier", "", "ascii"),
    ("orbit_cycle", "Cycle", "", "int32"), ("REL_ORBIT", "Track", "", "int32"), ("ABS_ORBIT", "Orbit", "", "int32"),
    ("STATE_VECTOR_TIME", "Time of orbit state vector", "utc", "utc"),
    ("VECTOR_SOURCE", "State vector source", "", "ascii"),
    ("incidence_near", "", "deg", "float64"), ("incidence_far", "", "deg", "float64"),
    ("slice_num", "Slice number", "", "int32"), ("data_take_id", "Data take identifier", "", "int32"),
    ("first_line_time", "First zero doppler azimuth time", "utc", "utc"),
    ("last_line_time", "Last zero doppler azimuth time", "utc", "utc"),
    ("first_near_lat", "", "deg", "float64"), ("first_near_long", "", "deg", "float64"),
    ("first_far_lat", "", "deg", "float64"), ("first_far_long", "", "deg", "float64"),
    ("last_near_lat", "", "deg", "float64"), ("last_near_long", "", "deg", "float64"),
    ("last_far_lat", "", "deg", "float64"), ("last_far_long", "", "deg", "float64"),
    ("PASS", "ASCENDING or DESCENDING", "", "ascii"), ("SAMPLE_TYPE", "DETECTED or COMPLEX", "", "ascii"),
    ("mds1_tx_rx_polar", "Polarization", "", "ascii"), ("mds2_tx_rx_polar", "Polarization", "", "ascii"),
    ("mds3_tx_rx_polar", "Polarization", "", "ascii"), ("mds4_tx_rx_polar", "Polarization", "", "ascii"),
    ("polsar_data", "Polarimetric Matrix", "flag", "uint8"), ("algorithm", "Processing algorithm", "", "ascii"),
    ("azimuth_looks", "", "", "float64"), ("range_looks", "", "", "float64"),
    ("range_spacing", "Range sample spacing", "m", "float64"),
    ("azimuth_spacing", "Azimuth sample spacing", "m", "float64"),
    ("range_window_type", "Range window type", "", "ascii"),
    ("range_window_coefficient", "Range window coefficient", "", "float64"),
    ("pulse_repetition_frequency", "PRF", "Hz", "float64"), ("radar_frequency", "Radar frequency", "MHz", "float64"),
    ("line_time_interval", "", "s", "float64"), ("total_size", "Total product size", "MB", "uint32"),
    ("num_output_lines", "Raster height", "lines", "uint32"),
    ("num_samples_per_line", "Raster width", "samples", "uint32"),
    ("subset_offset_x", "X coordinate of UL corner of subset in original image", "samples", "uint32"),
    ("subset_offset_y", "Y coordinate of UL corner of subset in original image", "samples", "uint32"),
    ("srgr_flag", "SRGR applied", "flag", "uint8"),
    ("avg_scene_height", "Average scene height ellipsoid", "m", "float64"),
    ("map_projection", "Map projection applied", "", "ascii"),
    ("is_terrain_corrected", "orthorectification applied", "flag", "uint8"),
    ("DEM", "Digital Elevation Model used", "", "ascii"), ("geo_ref_system", "geographic reference system", "", "ascii"),
    ("lat_pixel_res", "pixel resolution in geocoded image", "deg", "float64"),
    ("lon_pixel_res", "pixel resolution in geocoded image", "deg", "float64"),
    ("slant_range_to_first_pixel", "Slant range to 1st data sample", "m", "float64"),
    ("ant_elev_corr_flag", "Antenna elevation applied", "flag", "uint8"),
    ("range_spread_comp_flag", "range spread compensation applied", "flag", "uint8"),
    ("replica_power_corr_flag", "Replica pulse power correction applied", "flag", "uint8"),
    ("abs_calibration_flag", "Product calibrated", "flag", "uint8"),
    ("calibration_factor", "Calibration constant", "dB", "float64"), ("chirp_power", "Chirp power", "", "float64"),
    ("inc_angle_comp_flag", "incidence angle compensation applied", "flag", "uint8"),
    ("ref_inc_angle", "Reference incidence angle", "", "float64"),
    ("ref_slant_range", "Reference slant range", "", "float64"),
    ("ref_slant_range_exp", "Reference slant range exponent", "", "float64"),
    ("rescaling_factor", "Rescaling factor", "", "float64"), ("bistatic_correction_applied", "", "flag", "uint8"),
    ("range_sampling_rate", "Range Sampling Rate", "MHz", "float64"),
    ("range_bandwidth", "Bandwidth total in range", "MHz", "float64"),
    ("azimuth_bandwidth", "Bandwidth total in azimuth", "Hz", "float64"),
    ("multilook_flag", "Multilook applied", "flag", "uint8"),
    ("coregistered_stack", "Coregistration applied", "flag", "uint8"),
    ("external_calibration_file", "External calibration file used", "", "ascii"),
    ("orbit_state_vector_file", "Orbit file used", "", "ascii"),
    ("metadata_version", "AbsMetadata version", "", "ascii"),
)

_FLAVOURS = {
    # (band tags ref/sec, baseline element prefixes, secondary root, reference-bands attr, secondary-bands attr)
    "s1tbx": ("_mst", "_slv", "Master: ", "Slave: ", "Slave_Metadata", "Master_bands", "Slave_bands"),
    "snap": ("_mst", "_slv", "Ref_", "Secondary_", "Slave_Metadata", "Master_bands", "Slave_bands"),
    "current": ("_ref", "_sec", "Ref_", "Secondary_", "Secondary_Metadata", "Reference_bands", "Secondary_bands"),
}


def _snap_product_name(src, k, times):
    start = times[k][0]
    stop = start + dt.timedelta(seconds=27)
    return (f"S1A_IW_SLC__1SDV_{start:%Y%m%dT%H%M%S}_{stop:%Y%m%dT%H%M%S}_{absolute_orbit(src, k):06d}_"
            f"{(0x02D000 + k):06X}_{(0x1A2B + 7 * k) & 0xFFFF:04X}_split_Orb")


def _corners(lat, lon):
    return {"first_near": (lat[0, 0], lon[0, 0]), "first_far": (lat[0, -1], lon[0, -1]),
            "last_near": (lat[-1, 0], lon[-1, 0]), "last_far": (lat[-1, -1], lon[-1, -1])}


def _abstracted_values(src, k, times, lat, lon, inc, swath, pol, terrain_corrected, crs_name, stack=True):
    start, centre = times[k]
    last = start + dt.timedelta(seconds=LINE_TIME_INTERVAL * (src.rows - 1))
    sv_times = state_vector_times(centre)
    corners = _corners(lat, lon)
    r0 = src.slant_range - RANGE_PIXEL_SPACING * (src.cols - 1) / 2.0
    v = {
        "PRODUCT": _snap_product_name(src, k, times).replace("_split_Orb", ""), "PRODUCT_TYPE": "SLC",
        "SPH_DESCRIPTOR": "Sentinel-1 IW Level-1 SLC Product", "MISSION": "SENTINEL-1A", "ACQUISITION_MODE": "IW",
        "antenna_pointing": "right", "BEAMS": "-", "SWATH": swath, "PROC_TIME": start + dt.timedelta(hours=2),
        "Processing_system_identifier": "ESA Sentinel-1 IPF 003.10", "orbit_cycle": 1 + absolute_orbit(src, k) // 175,
        "REL_ORBIT": TRACK, "ABS_ORBIT": absolute_orbit(src, k), "STATE_VECTOR_TIME": sv_times[0],
        "VECTOR_SOURCE": "-", "incidence_near": float(inc[:, 0].mean()), "incidence_far": float(inc[:, -1].mean()),
        "slice_num": 3, "data_take_id": 0x02D000 + k, "first_line_time": start, "last_line_time": last,
        "PASS": src.orbit.upper(), "SAMPLE_TYPE": "COMPLEX", "mds1_tx_rx_polar": pol, "mds2_tx_rx_polar": "-",
        "mds3_tx_rx_polar": "-", "mds4_tx_rx_polar": "-", "polsar_data": 0, "algorithm": "-",
        "azimuth_looks": 1.0, "range_looks": 1.0, "range_spacing": RANGE_PIXEL_SPACING,
        "azimuth_spacing": AZIMUTH_SPACING, "range_window_type": "Hamming", "range_window_coefficient": 0.75,
        "pulse_repetition_frequency": PRF_RAW, "radar_frequency": SPEED_OF_LIGHT / src.wavelength / 1e6,
        "line_time_interval": LINE_TIME_INTERVAL, "total_size": int(src.rows * src.cols * 8 // 2 ** 20),
        "num_output_lines": src.rows, "num_samples_per_line": src.cols, "subset_offset_x": 0, "subset_offset_y": 0,
        "srgr_flag": 0, "avg_scene_height": 0.0, "map_projection": crs_name if terrain_corrected else "-",
        "is_terrain_corrected": 1 if terrain_corrected else 0, "DEM": "SRTM 1Sec HGT" if terrain_corrected else "-",
        "geo_ref_system": "WGS84" if terrain_corrected else "-", "lat_pixel_res": 99999.0, "lon_pixel_res": 99999.0,
        "slant_range_to_first_pixel": r0, "ant_elev_corr_flag": 0, "range_spread_comp_flag": 0,
        "replica_power_corr_flag": 0, "abs_calibration_flag": 0, "calibration_factor": 99999.0, "chirp_power": 99999.0,
        "inc_angle_comp_flag": 0, "ref_inc_angle": 99999.0, "ref_slant_range": 99999.0,
        "ref_slant_range_exp": 99999.0, "rescaling_factor": 99999.0, "bistatic_correction_applied": 1,
        "range_sampling_rate": RANGE_SAMPLING_RATE / 1e6, "range_bandwidth": RANGE_BANDWIDTH / 1e6,
        "azimuth_bandwidth": 327.0, "multilook_flag": 0, "coregistered_stack": 1 if stack else 0,
        "external_calibration_file": "-",
        "orbit_state_vector_file": f"S1A_OPER_AUX_POEORB_OPOD_{centre + dt.timedelta(days=20):%Y%m%dT%H%M%S}_"
                                   f"V{centre - dt.timedelta(days=1):%Y%m%dT225942}_{centre:%Y%m%dT005942}.EOF",
        "metadata_version": "7.0",
    }
    for key, (la, lo) in corners.items():
        v[f"{key}_lat"], v[f"{key}_long"] = float(la), float(lo)
    return v


def _format_attr(value, typ):
    if typ == "utc":
        return snap_utc(value)
    if typ == "float64":
        return jdouble(value)
    return str(value)


def _write_abstracted(x, level, name, src, k, times, model, lat, lon, inc, swath, pol, tc, crs_name,
                      extra_attrs=(), baselines=None):
    """One Abstracted_Metadata element (also used for the copies under Slave_Metadata, ``baselines`` None)."""
    values = _abstracted_values(src, k, times, lat, lon, inc, swath, pol, tc, crs_name,
                                stack=baselines is not None)
    x.open(level, "MDElem", name=name)
    for key, desc, unit, typ in _ABS_ATTRS:
        x.leaf(level + 1, "MDATTR", _format_attr(values[key], typ), name=key, desc=desc, unit=unit, type=typ,
               mode="rw")
    lat0, lon0 = lat[src.rows // 2, src.cols // 2], lon[src.rows // 2, src.cols // 2]
    for key, val in (("centre_lat", lat0), ("centre_lon", lon0), ("centre_heading", src.heading_deg % 360.0),
                     ("centre_heading2", (src.heading_deg + 180.0) % 360.0)):
        x.leaf(level + 1, "MDATTR", jdouble(val), name=key, type="float64", mode="rw")
    for key, val, typ in extra_attrs:
        x.leaf(level + 1, "MDATTR", val, name=key, type=typ, mode="rw")
    x.open(level + 1, "MDElem", name="Orbit_State_Vectors")
    centre = times[k][1]
    epochs = state_vector_times(centre)
    pos, vel = model.state([(e - centre).total_seconds() for e in epochs], k)
    for i, epoch in enumerate(epochs):
        x.open(level + 2, "MDElem", name=f"orbit_vector{i + 1}")
        x.leaf(level + 3, "MDATTR", snap_utc(epoch), name="time", type="utc", mode="rw")
        for j, axis in enumerate("xyz"):
            x.leaf(level + 3, "MDATTR", jdouble(round(pos[i, j], 6)), name=f"{axis}_pos", type="float64", mode="rw")
        for j, axis in enumerate("xyz"):
            x.leaf(level + 3, "MDATTR", jdouble(round(vel[i, j], 6)), name=f"{axis}_vel", type="float64", mode="rw")
        x.close(level + 2, "MDElem")
    x.close(level + 1, "MDElem")
    x.leaf(level + 1, "MDElem", name="SRGR_Coefficients")
    x.open(level + 1, "MDElem", name="Doppler_Centroid_Coefficients")
    x.open(level + 2, "MDElem", name="dop_coef_list.1")
    x.leaf(level + 3, "MDATTR", snap_utc(centre), name="zero_doppler_time", type="utc", mode="rw")
    x.leaf(level + 3, "MDATTR", jdouble(2.0 * src.slant_range / SPEED_OF_LIGHT * 1e9), name="slant_range_time",
           desc="Slant Range Time", unit="ns", type="float64", mode="rw")
    for c in range(3):
        x.open(level + 3, "MDElem", name=f"coefficient.{c + 1}")
        x.leaf(level + 4, "MDATTR", "0.0", name="dop_coef", desc="Doppler Centroid Coefficient", unit="",
               type="float64", mode="rw")
        x.close(level + 3, "MDElem")
    x.close(level + 2, "MDElem")
    x.close(level + 1, "MDElem")
    if baselines is not None:
        baselines(x, level + 1)
    x.close(level, "MDElem")


def _write_envi_band(path_img, array, name, description, unit, map_lines=(), byte_order=1):
    """ENVI raw + header as snap-engine EnviHeader.createPhysicalFile writes them (big-endian)."""
    arr = np.asarray(array)
    code = {np.dtype(np.float32): 4, np.dtype(np.int16): 2, np.dtype(np.float64): 5}[arr.dtype]
    arr.astype(arr.dtype.newbyteorder(">" if byte_order == 1 else "<")).tofile(path_img)
    lines = ["ENVI", f"description = {{{description} - Unit: {unit or '1'}}}", f"samples = {arr.shape[1]}",
             f"lines = {arr.shape[0]}", "bands = 1", "header offset = 0", "file type = ENVI Standard",
             f"data type = {code}", "interleave = bsq", f"byte order = {byte_order}", f"band names = {{ {name} }}",
             *map_lines, "data gain values = {1.0}", "data offset values = {0.0}"]
    with open(os.path.splitext(path_img)[0] + ".hdr", "w", encoding="ascii", newline="\n") as fh:
        fh.write("\n".join(lines) + "\n")


def _envi_map_lines(src):
    """``map info`` / ``coordinate system string`` of a CrsGeoCoding band (EnviHeader.writeMapProjectionInfo)."""
    from osgeo import osr

    srs = osr.SpatialReference()
    srs.ImportFromWkt(src.crs.to_wkt())
    t = src.transform
    ref_x, ref_y = 0.5 * src.cols, 0.5 * src.rows
    easting, northing = t.c + ref_x * t.a, t.f + ref_y * t.e
    zone = srs.GetUTMZone()
    fields = ["UTM" if zone else "Arbitrary", jdouble(ref_x + 1.0), jdouble(ref_y + 1.0), jdouble(easting),
              jdouble(northing), jdouble(t.a), jdouble(-t.e)]
    if zone:
        fields += [str(abs(zone)), "North" if zone > 0 else "South"]
    fields += ["WGS84", "units=Meters"]
    return [f"map info = {{{','.join(fields)}}}", f"coordinate system string = {{{srs.ExportToWkt()}}}"]


def _bilinear(array, py, px):
    """Bilinear value of a per-pixel array at image positions (pixel-corner coordinates, 0.5 = first centre)."""
    y = np.clip(np.asarray(py, dtype=np.float64) - 0.5, 0, array.shape[0] - 1)
    x = np.clip(np.asarray(px, dtype=np.float64) - 0.5, 0, array.shape[1] - 1)
    y0 = np.minimum(np.floor(y).astype(int), array.shape[0] - 2) if array.shape[0] > 1 else np.zeros_like(y, int)
    x0 = np.minimum(np.floor(x).astype(int), array.shape[1] - 2) if array.shape[1] > 1 else np.zeros_like(x, int)
    fy, fx = y - y0, x - x0
    y1, x1 = np.minimum(y0 + 1, array.shape[0] - 1), np.minimum(x0 + 1, array.shape[1] - 1)
    return ((1 - fy) * (1 - fx) * array[y0, x0] + (1 - fy) * fx * array[y0, x1] + fy * (1 - fx) * array[y1, x0]
            + fy * fx * array[y1, x1])


def _latlon_at(src, py, px, lat, lon):
    """WGS84 lat/lon at fractional image positions: exact through the CRS, else bilinear in the lat/lon rasters."""
    if src.crs is not None and not ("lat" in src.aux and "lon" in src.aux):
        from pyproj import Transformer

        t = src.transform
        x = t.a * px + t.b * py + t.c
        y = t.d * px + t.e * py + t.f
        lo, la = Transformer.from_crs(src.crs.to_wkt(), "EPSG:4326", always_xy=True).transform(x, y)
        return np.asarray(la, dtype=np.float64), np.asarray(lo, dtype=np.float64)
    return _bilinear(lat, py, px), _bilinear(lon, py, px)


def _tie_point_grids(src, lat, lon, inc, model, n=11):
    """SNAP-style tie-point grids: n × n points at image positions 0.5 + i·step, step = (size − 1)/(n − 1)."""
    nx, ny = min(n, src.cols), min(n, src.rows)
    step_x, step_y = (src.cols - 1) / (nx - 1), (src.rows - 1) / (ny - 1)
    px, py = np.meshgrid(0.5 + step_x * np.arange(nx), 0.5 + step_y * np.arange(ny))
    glat, glon = _latlon_at(src, py, px, lat, lon)
    rng = src.slant_range + (px - 0.5 - (src.cols - 1) / 2.0) * RANGE_PIXEL_SPACING
    srt = 2.0 * rng / SPEED_OF_LIGHT * 1e9
    inc_grid = _bilinear(inc, py, px)
    elev = np.degrees(np.arcsin(np.sin(np.radians(inc_grid)) * WGS84_A / model.radius))
    grids = [("latitude", "deg", glat), ("longitude", "deg", glon), ("incident_angle", "deg", inc_grid),
             ("elevation_angle", "deg", elev), ("slant_range_time", "ns", srt)]
    return [(name, unit, np.asarray(g, dtype=np.float32), nx, ny, step_x, step_y) for name, unit, g in grids]


def write_snap_dimap(  # noqa: C901 -- one .dim document written top to bottom, in SNAP's section order
    stack_folder, out_dir, name=None, radar_geometry=False, reference_date=None, swath="IW2",
    polarisation="VV", flavour="snap", reference_dtype="float32",
):
    """Write ``<name>.dim`` + ``<name>.data/`` as SNAP's Back-Geocoding (+ optional Terrain-Correction) leaves them.

    ``flavour``: ``"snap"`` (SNAP 8–12: ``_mst``/``_slv<k>`` bands, ``Ref_``/``Secondary_`` baselines,
    ``Slave_Metadata``), ``"s1tbx"`` (SNAP ≤ 7: ``Master: ``/``Slave: `` baselines) or ``"current"`` (newest
    SNAP: ``_ref``/``_sec<k>`` bands, ``Secondary_Metadata``; its ``Reference_bands``/``Secondary_bands`` attribute
    names are an unverified guess).  ``radar_geometry=False`` writes a terrain-corrected stack (CRS geocoding
    from the source GeoTIFFs); ``True`` writes tie-point grids instead.  ``reference_dtype="int16"`` writes the
    reference i/q rounded to int16 as a stack straight from TOPSAR-Split.  The reference is the middle date
    unless ``reference_date`` (YYYYMMDD) is given; secondaries follow in chronological order (slv1, slv2 …).
    Returns the path of the ``.dim``.  Sources: see the module docstring.
    """
    src = read_source_stack(stack_folder)
    ref = _reference_index(src, reference_date)
    ref_tag, sec_tag, ref_prefix, sec_prefix, sec_root, ref_bands_attr, sec_bands_attr = _FLAVOURS[flavour]
    times = acquisition_times(src)
    model = orbit_model(src, ref)
    lat, lon = src.latlon()
    inc = src.incidence()
    tc = not radar_geometry
    if tc and src.crs is None:
        raise ValueError("a terrain-corrected DIMAP stack needs SLCs with a CRS")
    if name is None:
        name = _snap_product_name(src, ref, times) + ("_Stack_deb_TC" if tc else "_Stack_deb")
    os.makedirs(out_dir, exist_ok=True)
    data_dir_name = name + ".data"
    data_dir = os.path.join(out_dir, data_dir_name)
    os.makedirs(data_dir, exist_ok=True)
    description = "Sentinel-1 IW Level-1 SLC Product"
    map_lines = _envi_map_lines(src) if tc else ()
    crs_name = ""
    if tc:
        from osgeo import osr

        srs = osr.SpatialReference()
        srs.ImportFromWkt(src.crs.to_wkt())
        crs_name = srs.GetAttrValue("PROJCS") or srs.GetAttrValue("GEOGCS") or ""

    order = [ref] + [k for k in range(len(src.dates)) if k != ref]
    bands = []   # (name, unit, dtype, virtual expression or None, date index)
    for pos, k in enumerate(order):
        tag = ref_tag if pos == 0 else f"{sec_tag}{pos}"
        suffix = f"_{swath}_{polarisation}{tag}_{snap_date(src.dates[k])}"
        slc = src.read(k)
        dtype = np.dtype(np.int16) if (pos == 0 and reference_dtype == "int16") else np.dtype(np.float32)
        i_name, q_name = "i" + suffix, "q" + suffix
        for bname, unit, part in ((i_name, "real", slc.real), (q_name, "imaginary", slc.imag)):
            values = np.round(part).astype(np.int16) if dtype == np.int16 else part.astype(np.float32)
            _write_envi_band(os.path.join(data_dir, bname + ".img"), values, bname, description, unit, map_lines)
            bands.append((bname, unit, dtype, None, k))
        bands.append(("Intensity" + suffix, "intensity", np.dtype(np.float32),
                      f"{i_name} * {i_name} + {q_name} * {q_name}", k))

    tpgs = []
    if radar_geometry:
        tdir = os.path.join(data_dir, "tie_point_grids")
        os.makedirs(tdir, exist_ok=True)
        tpgs = _tie_point_grids(src, lat, lon, inc, model)
        for tname, unit, grid, *_ in tpgs:
            _write_envi_band(os.path.join(tdir, tname + ".img"), grid, tname, description, unit)

    x = _Xml()
    x.raw('<?xml version="1.0" encoding="ISO-8859-1"?>')
    x.open(0, "Dimap_Document", name=name + ".dim")
    x.open(1, "Metadata_Id")
    x.leaf(2, "METADATA_FORMAT", "DIMAP", version="2.13.0")
    x.leaf(2, "METADATA_PROFILE", "BEAM-DATAMODEL-V1")
    x.close(1, "Metadata_Id")
    x.open(1, "Dataset_Id")
    x.leaf(2, "DATASET_SERIES", "BEAM-PRODUCT")
    x.leaf(2, "DATASET_NAME", name)
    x.close(1, "Dataset_Id")
    x.open(1, "Dataset_Use")
    x.leaf(2, "DATASET_COMMENTS", description)
    x.close(1, "Dataset_Use")
    x.open(1, "Production")
    x.leaf(2, "DATASET_PRODUCER_NAME")
    x.leaf(2, "PRODUCT_TYPE", "SLC")
    x.leaf(2, "PRODUCT_SCENE_RASTER_START_TIME", snap_utc(times[ref][0]))
    x.leaf(2, "PRODUCT_SCENE_RASTER_STOP_TIME",
           snap_utc(times[ref][0] + dt.timedelta(seconds=LINE_TIME_INTERVAL * (src.rows - 1))))
    x.leaf(2, "QUICKLOOK_BAND_NAME", bands[2][0])
    x.close(1, "Production")
    i2m = None
    if tc:
        from osgeo import osr

        srs = osr.SpatialReference()
        srs.ImportFromWkt(src.crs.to_wkt())
        t = src.transform
        i2m = ",".join(jdouble(v) for v in (t.a, t.d, t.b, t.e, t.c, t.f))
        x.open(1, "Coordinate_Reference_System")
        x.open(2, "WKT")
        for line in srs.ExportToPrettyWkt().splitlines():
            x.raw(" " * 13 + line)
        x.close(2, "WKT")
        x.close(1, "Coordinate_Reference_System")
        x.open(1, "Geoposition")
        x.leaf(2, "IMAGE_TO_MODEL_TRANSFORM", i2m)
        x.close(1, "Geoposition")
    else:
        x.open(1, "Coordinate_Reference_System")
        x.open(2, "Horizontal_CS")
        x.leaf(3, "HORIZONTAL_CS_TYPE", "GEOGRAPHIC")
        x.open(3, "Geographic_CS")
        x.open(4, "Horizontal_Datum")
        x.leaf(5, "HORIZONTAL_DATUM_NAME", "WGS-84")
        x.open(5, "Ellipsoid")
        x.leaf(6, "ELLIPSOID_NAME", "WGS-84")
        x.open(6, "Ellipsoid_Parameters")
        x.leaf(7, "ELLIPSOID_MAJ_AXIS", "6378137.0", unit="M")
        x.leaf(7, "ELLIPSOID_MIN_AXIS", "6356752.3", unit="M")
        x.close(6, "Ellipsoid_Parameters")
        x.close(5, "Ellipsoid")
        x.close(4, "Horizontal_Datum")
        x.close(3, "Geographic_CS")
        x.close(2, "Horizontal_CS")
        x.close(1, "Coordinate_Reference_System")
        x.open(1, "Geoposition")
        x.open(2, "Geoposition_Points")
        x.leaf(3, "TIE_POINT_GRID_NAME_LAT", "latitude")
        x.leaf(3, "TIE_POINT_GRID_NAME_LON", "longitude")
        x.close(2, "Geoposition_Points")
        x.close(1, "Geoposition")
    x.open(1, "Raster_Dimensions")
    x.leaf(2, "NCOLS", src.cols)
    x.leaf(2, "NROWS", src.rows)
    x.leaf(2, "NBANDS", len(bands))
    x.close(1, "Raster_Dimensions")
    x.open(1, "Data_Access")
    x.leaf(2, "DATA_FILE_FORMAT", "ENVI")
    x.leaf(2, "DATA_FILE_FORMAT_DESC", "ENVI File Format")
    x.leaf(2, "DATA_FILE_ORGANISATION", "BAND_SEPARATE")
    for index, (bname, _unit, _dtype, expression, _k) in enumerate(bands):
        if expression is None:
            x.open(2, "Data_File")
            x.leaf(3, "DATA_FILE_PATH", href=f"{data_dir_name}/{bname}.hdr")
            x.leaf(3, "BAND_INDEX", index)
            x.close(2, "Data_File")
    for index, (tname, *_rest) in enumerate(tpgs):
        x.open(2, "Tie_Point_Grid_File")
        x.leaf(3, "TIE_POINT_GRID_FILE_PATH", href=f"{data_dir_name}/tie_point_grids/{tname}.hdr")
        x.leaf(3, "TIE_POINT_GRID_INDEX", index)
        x.close(2, "Tie_Point_Grid_File")
    x.close(1, "Data_Access")
    if tpgs:
        x.open(1, "Tie_Point_Grids")
        x.leaf(2, "NUM_TIE_POINT_GRIDS", len(tpgs))
        for index, (tname, unit, _grid, nx, ny, sx, sy) in enumerate(tpgs):
            x.open(2, "Tie_Point_Grid_Info")
            x.leaf(3, "TIE_POINT_GRID_INDEX", index)
            x.leaf(3, "TIE_POINT_DESCRIPTION")
            x.leaf(3, "PHYSICAL_UNIT", unit)
            x.leaf(3, "TIE_POINT_GRID_NAME", tname)
            x.leaf(3, "DATA_TYPE", "float32")
            x.leaf(3, "NCOLS", nx)
            x.leaf(3, "NROWS", ny)
            x.leaf(3, "OFFSET_X", "0.5")
            x.leaf(3, "OFFSET_Y", "0.5")
            x.leaf(3, "STEP_X", jdouble(sx))
            x.leaf(3, "STEP_Y", jdouble(sy))
            cyclic = tname == "longitude"
            x.leaf(3, "CYCLIC", "true" if cyclic else "false", discontinuity="180" if cyclic else "0")
            x.close(2, "Tie_Point_Grid_Info")
        x.close(1, "Tie_Point_Grids")
    x.open(1, "Image_Interpretation")
    for index, (bname, unit, dtype, expression, _k) in enumerate(bands):
        x.open(2, "Spectral_Band_Info")
        x.leaf(3, "BAND_INDEX", index)
        x.leaf(3, "BAND_DESCRIPTION", "Intensity from complex data" if expression else None)
        x.leaf(3, "BAND_NAME", bname)
        x.leaf(3, "BAND_RASTER_WIDTH", src.cols)
        x.leaf(3, "BAND_RASTER_HEIGHT", src.rows)
        x.leaf(3, "DATA_TYPE", "int16" if dtype == np.int16 else "float32")
        x.leaf(3, "PHYSICAL_UNIT", unit)
        for tag, val in (("SOLAR_FLUX", "0.0"), ("BAND_WAVELEN", "0.0"), ("BAND_ANGULAR_VALUE", "-999.0"),
                         ("BANDWIDTH", "0.0"), ("SCALING_FACTOR", "1.0"), ("SCALING_OFFSET", "0.0"),
                         ("LOG10_SCALED", "false"), ("NO_DATA_VALUE_USED", "true"), ("NO_DATA_VALUE", "0.0")):
            x.leaf(3, tag, val)
        if expression:
            x.leaf(3, "VIRTUAL_BAND", "true")
            x.leaf(3, "EXPRESSION", expression)
        if i2m:
            x.leaf(3, "IMAGE_TO_MODEL_TRANSFORM", i2m)
        x.close(2, "Spectral_Band_Info")
    x.close(1, "Image_Interpretation")

    rel = src.bperp
    look = math.radians(model.look_angle_deg)
    mjd = [(t[1] - dt.datetime(2000, 1, 1)).total_seconds() / 86400.0 for t in times]

    def baselines(xml, level):
        xml.open(level, "MDElem", name="Baselines")
        for i in order:
            xml.open(level + 1, "MDElem", name=f"{ref_prefix}{snap_date(src.dates[i])}")
            for j in order:
                bp = float(np.float32(rel[j] - rel[i]))
                bt = float(np.float32(mjd[i] - mjd[j]))
                coh = 1.0
                for value, critical in ((bp, 1200.0), (bt, 3 * 365.0), (0.0, 1380.0)):
                    coh *= 0.01 if abs(value) > critical else 1.0 - abs(value) / critical
                hamb = math.inf if bp == 0.0 else -src.wavelength * src.slant_range * math.sin(look) / (2.0 * bp)
                xml.open(level + 2, "MDElem", name=f"{sec_prefix}{snap_date(src.dates[j])}")
                for key, val in (("Perp Baseline", jfloat(bp)), ("Temp Baseline", jfloat(bt)),
                                 ("Modelled Coherence", jfloat(coh)), ("Height of Ambiguity", jfloat(hamb)),
                                 ("Doppler Difference", "0.0")):
                    xml.leaf(level + 3, "MDATTR", val, name=key, type="float64", mode="rw")
                xml.close(level + 2, "MDElem")
            xml.close(level + 1, "MDElem")
        xml.close(level, "MDElem")

    x.open(1, "Dataset_Sources")
    x.open(2, "MDElem", name="metadata")
    _write_abstracted(x, 3, "Abstracted_Metadata", src, ref, times, model, lat, lon, inc, swath, polarisation, tc,
                      crs_name, extra_attrs=(("collocated_stack", "1", "int32"),), baselines=baselines)
    x.leaf(3, "MDElem", name="Original_Product_Metadata")
    x.open(3, "MDElem", name=sec_root)
    ref_names = " ".join(b[0] for b in bands[:2])
    x.leaf(4, "MDATTR", ref_names, name=ref_bands_attr, type="ascii", mode="rw")
    for pos, k in enumerate(order[1:], start=1):
        sec_names = " ".join(b[0] for b in bands[3 * pos:3 * pos + 2])
        elem = _snap_product_name(src, k, times) + "_" + snap_date(src.dates[k])
        _write_abstracted(x, 4, elem, src, k, times, model, lat, lon, inc, swath, polarisation, tc, crs_name,
                          extra_attrs=((sec_bands_attr, sec_names, "ascii"),))
    x.close(3, "MDElem")
    x.close(2, "MDElem")
    x.close(1, "Dataset_Sources")
    x.close(0, "Dimap_Document")
    dim_path = os.path.join(out_dir, name + ".dim")
    with open(dim_path, "w", encoding="iso-8859-1", newline="\n") as fh:
        fh.write(x.text())
    return dim_path


# ------------------------------------------------------------------------------------------------ ISCE2
def _isce_prop(level, name, value, doc=None):
    pad = "    " * level
    out = [f'{pad}<property name="{name}">', f"{pad}    <value>{escape(str(value))}</value>"]
    if doc:
        out.append(f"{pad}    <doc>{escape(doc)}</doc>")
    out.append(f"{pad}</property>")
    return out


def _isce_image_xml(path, width, length, data_type, bands=1, scheme="BIP", image_type=None, family="image"):
    """``<file>.xml`` as isceobj Image.renderHdr dumps it (XmlDumper, root ``imageFile``)."""
    lines = ["<imageFile>", *_isce_prop(1, "ISCE_VERSION", ISCE_VERSION),
             *_isce_prop(1, "access_mode", "read", "Image access mode."),
             *_isce_prop(1, "byte_order", "l", "Endianness of the image.")]
    for cname, size, doc in (("coordinate1", width, "First coordinate of a 2D image (width)."),
                             ("coordinate2", length, "Second coordinate of a 2D image (length).")):
        lines += [f'    <component name="{cname}">', "        <factorymodule>isceobj.Image</factorymodule>",
                  "        <factoryname>createCoordinate</factoryname>", f"        <doc>{doc}</doc>",
                  *_isce_prop(2, "delta", "1.0", "Coordinate quantization."),
                  *_isce_prop(2, "endingvalue", f"{float(size)}", "Ending value of the coordinate."),
                  *_isce_prop(2, "family", "imagecoordinate", "Instance family name"),
                  *_isce_prop(2, "name", "imagecoordinate_name", "Instance name"),
                  *_isce_prop(2, "size", size, "Coordinate size."),
                  *_isce_prop(2, "startingvalue", "0.0", "Starting value of the coordinate."),
                  "    </component>"]
    lines += [*_isce_prop(1, "data_type", data_type, "Image data type."),
              *_isce_prop(1, "extra_file_name", os.path.basename(path) + ".vrt", "For example name of vrt metadata."),
              *_isce_prop(1, "family", family, "Instance family name"),
              *_isce_prop(1, "file_name", os.path.abspath(path), "Name of the image file.")]
    if image_type:
        lines += _isce_prop(1, "image_type", image_type, "Image type used for displaying.")
    lines += [*_isce_prop(1, "length", length, "Image length"), *_isce_prop(1, "name", f"{family}_name", "Instance name"),
              *_isce_prop(1, "number_bands", bands, "Number of image bands."),
              *_isce_prop(1, "scheme", scheme, "Interleaving scheme of the image."),
              *_isce_prop(1, "width", width, "Image width"), *_isce_prop(1, "xmax", f"{float(width)}", "Maximum range value"),
              *_isce_prop(1, "xmin", "0.0", "Minimum range value"), "</imageFile>"]
    with open(path + ".xml", "w", encoding="utf-8", newline="\n") as fh:
        fh.write("\n".join(lines) + "\n")


_ISCE_GDAL = {"CFLOAT": "CFloat32", "DOUBLE": "Float64", "FLOAT": "Float32", "BYTE": "Byte"}
_ISCE_SIZE = {"CFLOAT": 8, "DOUBLE": 8, "FLOAT": 4, "BYTE": 1}


def _isce_vrt(path, width, length, data_type, bands=1, scheme="BIP"):
    """``<file>.vrt`` as isceobj Image.renderVRT writes it (radar coordinates: no SRS/GeoTransform)."""
    n = _ISCE_SIZE[data_type]
    lines = [f'<VRTDataset rasterXSize="{width}" rasterYSize="{length}">']
    for b in range(bands):
        if scheme == "BIL":
            offsets = (b * width * n, n, bands * width * n)
        elif scheme == "BIP":
            offsets = (b * n, bands * n, bands * width * n)
        else:
            offsets = (b * width * length * n, n, width * n)
        lines += [f'    <VRTRasterBand dataType="{_ISCE_GDAL[data_type]}" band="{b + 1}" subClass="VRTRawRasterBand">',
                  f'        <SourceFilename relativeToVRT="1">{os.path.basename(path)}</SourceFilename>',
                  "        <ByteOrder>LSB</ByteOrder>", f"        <ImageOffset>{offsets[0]}</ImageOffset>",
                  f"        <PixelOffset>{offsets[1]}</PixelOffset>", f"        <LineOffset>{offsets[2]}</LineOffset>",
                  "    </VRTRasterBand>"]
    lines.append("</VRTDataset>")
    with open(path + ".vrt", "w", encoding="utf-8", newline="\n") as fh:
        fh.write("\n".join(lines) + "\n")


def _isce_raster(path, arrays, data_type, image_type=None, family="image", envi=True):
    """Raw little-endian raster (+ GDAL ENVI header as ``gdal_translate -of ENVI -co INTERLEAVE=BIL`` leaves it,
    + ISCE ``.xml`` + ``.vrt``).  ``arrays``: list of 2-D bands."""
    from osgeo import gdal

    gdal.UseExceptions()
    length, width = arrays[0].shape
    bands = len(arrays)
    scheme = "BIL" if bands > 1 else "BIP"
    if data_type == "BYTE":
        scheme = "BIL"
    np_type = {"CFLOAT": "<c8", "DOUBLE": "<f8", "FLOAT": "<f4", "BYTE": "u1"}[data_type]
    if envi:
        mem = gdal.GetDriverByName("MEM").Create("", width, length, bands, gdal.GetDataTypeByName(_ISCE_GDAL[data_type]))
        for b, a in enumerate(arrays):
            mem.GetRasterBand(b + 1).WriteArray(np.asarray(a))
        gdal.Translate(path, mem, format="ENVI", creationOptions=["INTERLEAVE=BIL"])
        mem = None
    else:
        stacked = np.stack([np.asarray(a, dtype=np_type) for a in arrays], axis=1)  # (length, bands, width) = BIL
        stacked.tofile(path)
    _isce_image_xml(path, width, length, data_type, bands, scheme, image_type, family)
    _isce_vrt(path, width, length, data_type, bands, scheme)


def _isce_geometry(src, model, geom_dir, suffix, envi=True):
    os.makedirs(geom_dir, exist_ok=True)
    lat, lon = src.latlon()
    inc = src.incidence()
    az = np.full(inc.shape, isce_azimuth_angle(src.heading_deg), dtype=np.float32)
    look = np.degrees(np.arcsin(np.sin(np.radians(inc)) * WGS84_A / model.radius))
    _isce_raster(os.path.join(geom_dir, "lat.rdr" + suffix), [lat], "DOUBLE", envi=envi)
    _isce_raster(os.path.join(geom_dir, "lon.rdr" + suffix), [lon], "DOUBLE", envi=envi)
    _isce_raster(os.path.join(geom_dir, "hgt.rdr" + suffix), [np.zeros_like(lat)], "DOUBLE", envi=envi)
    _isce_raster(os.path.join(geom_dir, "los.rdr" + suffix), [inc.astype(np.float32), az], "FLOAT", image_type="bil",
                 envi=envi)
    _isce_raster(os.path.join(geom_dir, "incLocal.rdr" + suffix), [look.astype(np.float32), inc.astype(np.float32)],
                 "FLOAT", envi=envi)
    _isce_raster(os.path.join(geom_dir, "shadowMask.rdr" + suffix), [np.zeros(lat.shape, np.uint8)], "BYTE",
                 envi=envi)


def _isce_swath_xml(path, src, ref, swath_number):
    """Subset of ``reference/IW<n>.xml`` (ProductManager dump of the reference TOPSSwathSLCProduct)."""
    start, centre = acquisition_times(src)[ref]
    stop = start + dt.timedelta(seconds=LINE_TIME_INTERVAL * (src.rows - 1))
    r0 = src.slant_range - RANGE_PIXEL_SPACING * (src.cols - 1) / 2.0

    def fmt(t):
        return t.strftime("%Y-%m-%d %H:%M:%S.%f")

    props = [("azimuthtimeinterval", LINE_TIME_INTERVAL, "Time interval between consecutive lines (single look)"),
             ("burstnumber", 1, "Unique burst number"), ("burststartutc", fmt(start), "Burst start time"),
             ("burststoputc", fmt(stop), "Burst stop time"),
             ("numberoflines", src.rows, "Number of lines in the burst"),
             ("numberofsamples", src.cols, "Number of samples in the burst"),
             ("passdirection", src.orbit.upper(), "Ascending or descending direction of orbit"),
             ("polarization", "VV", "Polarization"), ("prf", PRF_RAW, "Pulse repetition frequency"),
             ("radarwavelength", repr(src.wavelength), "Radar wavelength"),
             ("rangepixelsize", repr(RANGE_PIXEL_SPACING), "Slant range pixel size"),
             ("sensingmid", fmt(centre), "Sensing mid time"), ("sensingstart", fmt(start), "Sensing start time"),
             ("sensingstop", fmt(stop), "Sensing stop time"),
             ("startingrange", repr(r0), "Slant range to first pixel"),
             ("swathnumber", swath_number, "Swath number")]
    lines = ["<productmanager_name>", '    <component name="instance">',
             "        <factorymodule>isceobj.Sensor.TOPS</factorymodule>",
             "        <factoryname>createTOPSSwathSLCProduct</factoryname>",
             *_isce_prop(2, "numberofbursts", 1, "Number of bursts in the product"),
             '        <component name="bursts">', "            <factorymodule>iscesys.Component</factorymodule>",
             "            <factoryname>createTraitSeq</factoryname>", '            <component name="burst1">',
             "                <factorymodule>isceobj.Sensor.TOPS</factorymodule>",
             "                <factoryname>createBurstSLC</factoryname>"]
    for key, value, doc in props:
        lines += _isce_prop(4, key, value, doc)
    lines += ["            </component>", "        </component>", "    </component>", "</productmanager_name>"]
    with open(path, "w", encoding="utf-8", newline="\n") as fh:
        fh.write("\n".join(lines) + "\n")


def write_isce2_topsstack(stack_folder, out_dir, reference_date=None, swath=2, envi_header=True):
    """Write an ISCE2 topsStack work folder (``merged/``, ``baselines/``, ``reference/IW<swath>.xml``).

    SLCs ``merged/SLC/<d>/<d>.slc.full`` (+ ``.xml``, ``.vrt``; ENVI ``<d>.slc.hdr`` as the non-virtual merge
    leaves it unless ``envi_header=False``), geometry ``merged/geom_reference/*.rdr.full``, baselines
    ``baselines/<ref>_<sec>/<ref>_<sec>.txt`` with topsStack's sign (= −plugin B⊥).  Reference: the middle date
    unless ``reference_date``.  Returns ``out_dir``.  Sources: see the module docstring.
    """
    src = read_source_stack(stack_folder)
    ref = _reference_index(src, reference_date)
    model = orbit_model(src, ref)
    names = src.date_strings
    for k, d in enumerate(names):
        folder = os.path.join(out_dir, "merged", "SLC", d)
        os.makedirs(folder, exist_ok=True)
        _isce_raster(os.path.join(folder, f"{d}.slc.full"), [src.read(k)], "CFLOAT", image_type="slc",
                     family="image", envi=envi_header)
    _isce_geometry(src, model, os.path.join(out_dir, "merged", "geom_reference"), ".full", envi=envi_header)
    rel = src.relative_bperp(ref)
    for k, d in enumerate(names):
        if k == ref:
            continue
        pair = f"{names[ref]}_{d}"
        folder = os.path.join(out_dir, "baselines", pair)
        os.makedirs(folder, exist_ok=True)
        with open(os.path.join(folder, pair + ".txt"), "w", encoding="utf-8", newline="\n") as fh:
            fh.write(f"swath: IW{swath}\n")
            fh.write(f"Bperp (average): {repr(float(-rel[k]))}\n")
            fh.write("Bpar (average): 0.0\n")
    os.makedirs(os.path.join(out_dir, "reference"), exist_ok=True)
    _isce_swath_xml(os.path.join(out_dir, "reference", f"IW{swath}.xml"), src, ref, swath)
    return out_dir


def write_isce2_stripmapstack(stack_folder, out_dir, reference_date=None, envi_header=True):
    """Write an ISCE2 stripmapStack work folder: ``merged/SLC/<d>/<d>.slc``, ``merged/geom_reference/*.rdr``,
    ``baselines/<ref>_<sec>.txt`` (``PERP_BASELINE_BOTTOM``/``PERP_BASELINE_TOP``, sign assumed as topsStack's).
    """
    src = read_source_stack(stack_folder)
    ref = _reference_index(src, reference_date)
    model = orbit_model(src, ref)
    names = src.date_strings
    for k, d in enumerate(names):
        folder = os.path.join(out_dir, "merged", "SLC", d)
        os.makedirs(folder, exist_ok=True)
        _isce_raster(os.path.join(folder, f"{d}.slc"), [src.read(k)], "CFLOAT", image_type="slc", envi=envi_header)
    _isce_geometry(src, model, os.path.join(out_dir, "merged", "geom_reference"), "", envi=envi_header)
    rel = src.relative_bperp(ref)
    os.makedirs(os.path.join(out_dir, "baselines"), exist_ok=True)
    for k, d in enumerate(names):
        if k == ref:
            continue
        with open(os.path.join(out_dir, "baselines", f"{names[ref]}_{d}.txt"), "w", encoding="utf-8",
                  newline="\n") as fh:
            fh.write(f"PERP_BASELINE_BOTTOM {repr(float(-rel[k]))}\n")
            fh.write(f"PERP_BASELINE_TOP {repr(float(-rel[k]))}\n")
    return out_dir


# ------------------------------------------------------------------------------------------------ OPERA
def _b(text):
    return np.bytes_(str(text))


def _h5_scalar(group, name, value, description=None, units=None, **attrs):
    if isinstance(value, str):
        value = _b(value)
    ds = group.create_dataset(name, data=value)
    if description is not None:
        ds.attrs["description"] = _b(description)
    if units is not None:
        ds.attrs["units"] = _b(units)
    for k, v in attrs.items():
        ds.attrs[k] = _b(v) if isinstance(v, str) else v
    return ds


def _opera_projection(group, src):
    from osgeo import osr

    srs = osr.SpatialReference()
    srs.ImportFromWkt(src.crs.to_wkt())
    epsg = src.epsg()
    ds = group.create_dataset("projection", data=np.int32(epsg if epsg else 0))
    ds.attrs["description"] = _b("Projection system")
    ds.attrs["ellipsoid"] = _b("WGS84")
    ds.attrs["epsg_code"] = np.int64(epsg if epsg else 0)
    zone = srs.GetUTMZone()
    if zone:
        ds.attrs["grid_mapping_name"] = _b("universal_transverse_mercator")
    else:
        cf = {}
        try:
            from pyproj import CRS

            cf = CRS.from_wkt(src.crs.to_wkt()).to_cf()
        except Exception:  # noqa: BLE001 - CF mapping is decoration only
            cf = {}
        ds.attrs["grid_mapping_name"] = _b(cf.get("grid_mapping_name", "unknown"))
    ds.attrs["inverse_flattening"] = np.float64(298.257223563)
    ds.attrs["semi_major_axis"] = np.float64(6378137.0)
    ds.attrs["spatial_ref"] = _b(srs.ExportToWkt())
    if zone:
        ds.attrs["utm_zone_number"] = np.int64(abs(zone))
    return ds


def _opera_grid(f, src, layers, chunk_rows=None):
    """/data with x/y dimension scales (pixel centres), spacing, projection and the 2-D ``layers``
    {name: (array, attrs)}; chunks of ``chunk_rows`` full rows (CSLC) or 128 × 128 (static layers)."""
    g = f.create_group("data")
    t = src.transform
    x = g.create_dataset("x_coordinates", data=t.c + (np.arange(src.cols) + 0.5) * t.a)
    y = g.create_dataset("y_coordinates", data=t.f + (np.arange(src.rows) + 0.5) * t.e)
    for ds, axis in ((x, "X"), (y, "Y")):
        ds.make_scale("")
        ds.attrs["description"] = _b(f"CF compliant dimension associated with the {axis} coordinate")
        ds.attrs["long_name"] = _b(f"{axis.lower()} coordinate of projection")
        ds.attrs["standard_name"] = _b(f"projection_{axis.lower()}_coordinate")
        ds.attrs["units"] = _b("meters")
    _h5_scalar(g, "x_spacing", np.float64(t.a), "Spacing of the geographical grid along X-direction", "meters")
    _h5_scalar(g, "y_spacing", np.float64(t.e), "Spacing of the geographical grid along Y-direction", "meters")
    _opera_projection(g, src)
    chunks = (min(src.rows, chunk_rows), src.cols) if chunk_rows else (min(src.rows, 128), min(src.cols, 128))
    for name, (array, attrs) in layers.items():
        ds = g.create_dataset(name, data=array, chunks=chunks, compression="gzip", compression_opts=5, shuffle=True)
        ds.dims[0].attach_scale(y)
        ds.dims[1].attach_scale(x)
        for k, v in attrs.items():
            ds.attrs[k] = v
        ds.attrs["grid_mapping"] = _b("projection")
    return g


def _opera_identification(f, src, k, burst_id, lat, lon, product_type, version, start, stop):
    g = f.create_group("identification")
    ring = [(lon[0, 0], lat[0, 0]), (lon[0, -1], lat[0, -1]), (lon[-1, -1], lat[-1, -1]), (lon[-1, 0], lat[-1, 0])]
    wkt = "POLYGON ((" + ", ".join(f"{a!r} {b!r}" for a, b in ring + ring[:1]) + "))"
    fmt = "%Y-%m-%d %H:%M:%S.%f"
    items = [
        ("absolute_orbit_number", np.int64(absolute_orbit(src, k)), "Absolute orbit number", None),
        ("bounding_polygon", wkt, "OGR compatible WKT representation of bounding polygon of the image", "degrees"),
        ("burst_id", burst_id, "Burst identification string (burst ID)", None),
        ("instrument_name", "C-SAR", "Instrument name", None),
        ("is_geocoded", "True", "Boolean indicating if product is in radar geometry or geocoded", None),
        ("look_direction", "Right", "Look direction can be left or right", None),
        ("mission_id", "S1A", "Mission identifier", None),
        ("orbit_pass_direction", src.orbit.capitalize(), "Orbit direction can be ascending or descending", None),
        ("processing_center", "Jet Propulsion Laboratory", "Name of the processing center that produced the product",
         None),
        ("processing_date_time", "2024-05-04 18:50:04.213154", "Data processing date and time", None),
        ("product_level", "L2", "L0A: Unprocessed instrument data; L0B: Reformatted, unprocessed instrument data; L1: "
         "Processed instrument data in radar coordinates system; and L2: Processed instrument data in geocoded "
         "coordinates system", None),
        ("product_specification_version", "0.1.7", "CSLC-S1 product specification version", None),
        ("product_type", product_type, "Product type", None),
        ("product_version", version, "CSLC-S1 product version", None),
        ("radar_band", "C", "Radar band", None),
        ("track_number", np.int64(TRACK), "Track number", "unitless"),
        ("zero_doppler_end_time", stop.strftime(fmt), "Azimuth stop time of product", None),
        ("zero_doppler_start_time", start.strftime(fmt), "Azimuth start time of product", None),
    ]
    for name, value, description, units in items:
        _h5_scalar(g, name, value, description, units)


def _opera_orbit(group, src, k, model, times):
    g = group.create_group("orbit")
    start, centre = times[k]
    epoch = start - dt.timedelta(days=2)
    epochs = state_vector_times(centre)
    pos, vel = model.state([(e - centre).total_seconds() for e in epochs], k)
    fmt = "%Y-%m-%d %H:%M:%S.%f"
    _h5_scalar(g, "orbit_direction", src.orbit.capitalize(),
               "Direction of sensor orbit ephemeris (e.g., ascending, descending)")
    _h5_scalar(g, "orbit_type", "POEORB", "Type of orbit file used for processing. RESORB: restituted orbit ephemeris "
               "or POEORB: precise orbit ephemeris")
    frame = "with respect to WGS84 G1762 reference frame"
    for j, axis in enumerate("xyz"):
        _h5_scalar(g, f"position_{axis}", np.round(pos[:, j], 6), f"Platform position along {axis}-direction {frame}",
                   "meters")
    _h5_scalar(g, "reference_epoch", epoch.strftime(fmt), "Reference epoch of the state vectors",
               format="YYYY-MM-DD HH:MM:SS.6f")
    _h5_scalar(g, "time", np.array([(e - epoch).total_seconds() for e in epochs]),
               "Time of the orbit state vectors relative to the reference epoch", "seconds")
    for j, axis in enumerate("xyz"):
        _h5_scalar(g, f"velocity_{axis}", np.round(vel[:, j], 6), f"Platform velocity along {axis}-direction {frame}",
                   "meters/second")


def _opera_burst_metadata(group, src, lat, lon, start, stop):
    g = group.create_group("processing_information").create_group("input_burst_metadata")
    fmt = "%Y-%m-%d %H:%M:%S.%f"
    r0 = src.slant_range - RANGE_PIXEL_SPACING * (src.cols - 1) / 2.0
    centre = np.array([lon[src.rows // 2, src.cols // 2], lat[src.rows // 2, src.cols // 2]])
    items = [
        ("azimuth_steering_rate", np.float64(0.017101841240789263), "Azimuth steering rate of IW and EW modes",
         "degrees/second"),
        ("azimuth_time_interval", np.float64(LINE_TIME_INTERVAL), "Time spacing between azimuth lines of the burst",
         "seconds"),
        ("center", centre, "Longitude, latitude center of burst", "degrees"),
        ("ipf_version", "3.52", "ESA Instrument Processing Facility software version", None),
        ("iw2_mid_range", np.float64(src.slant_range), "Slant range of the middle of the IW2 swath", "meters"),
        ("platform_id", "S1A", "Sensor platform identification string (e.g., S1A or S1B)", None),
        ("polarization", "VV", "Polarization of the burst", None),
        ("prf_raw_data", np.float64(PRF_RAW), "Pulse repetition frequency (PRF) of the raw data", "Hertz"),
        ("radar_center_frequency", np.float64(SPEED_OF_LIGHT / src.wavelength), "Radar center frequency", "Hertz"),
        ("range_bandwidth", np.float64(RANGE_BANDWIDTH), "Slant range bandwidth of the signal", "Hertz"),
        ("range_pixel_spacing", np.float64(RANGE_PIXEL_SPACING),
         "Pixel spacing between slant range samples in the input burst SLC", "meters"),
        ("range_sampling_rate", np.float64(RANGE_SAMPLING_RATE),
         "Sampling rate of slant range in the input burst SLC", "Hertz"),
        ("range_window_coefficient", np.float64(0.75), "Value of the weighting window coefficient used during "
         "processing", None),
        ("range_window_type", "Hamming", "Name of the weighting window type used during processing", None),
        ("sensing_start", start.strftime(fmt), "Sensing start time of the burst", None),
        ("sensing_stop", stop.strftime(fmt), "Sensing stop time of the burst", None),
        ("shape", np.array([src.rows, src.cols], dtype=np.int64), "Shape (length, width) of the burst in radar "
         "coordinates", "pixels"),
        ("slant_range_time", np.float64(2.0 * src.slant_range / SPEED_OF_LIGHT),
         "two-way slant range time of Doppler centroid frequency estimate", "seconds"),
        ("starting_range", np.float64(r0), "Slant range of the first sample of the input burst", "meters"),
        ("wavelength", np.float64(src.wavelength), "Wavelength of the transmitted signal", "meters"),
    ]
    for name, value, description, units in items:
        ds = _h5_scalar(g, name, value, description, units)
        if name in ("sensing_start", "sensing_stop"):
            ds.attrs["format"] = _b("YYYY-MM-DD HH:MM:SS.6f")
    return g


def _opera_root_attrs(f, title, document):
    f.attrs["contact"] = _b("opera-sds-ops@jpl.nasa.gov")
    f.attrs["conventions"] = "CF-1.8"
    f.attrs["institution"] = _b("NASA JPL")
    f.attrs["project_name"] = _b("OPERA")
    f.attrs["reference_document"] = _b(document)
    f.attrs["title"] = _b(title)
    f["complex64"] = np.dtype(np.complex64)   # committed named type, as COMPASS writes it (netCDF needs it)


def write_opera_cslc(stack_folder, out_dir, burst_id="t087_185683_iw2", reference_date=None, version="1.1",
                     production="20240504T181714", static=True):
    """Write one OPERA CSLC-S1 HDF5 file per date (+ the ``-STATIC`` layers file) with h5py.

    Structure, dtypes and attributes follow the real files in ``../shared/data/opera`` (a subset of their
    datasets: everything a reader needs plus the identification group).  The orbits are the assumed circular
    orbit, shifted per date by the stack's B⊥ relative to the reference (middle date unless ``reference_date``)
    along ê, so the perpendicular baseline recomputed at the scene centre equals ``baselines.csv``.
    Returns the list of written CSLC paths (static file last when written).
    """
    import h5py

    src = read_source_stack(stack_folder)
    if src.crs is None:
        raise ValueError("OPERA CSLCs are geocoded: the source SLCs need a CRS")
    ref = _reference_index(src, reference_date)
    model = orbit_model(src, ref)
    times = acquisition_times(src)
    lat, lon = src.latlon()
    os.makedirs(out_dir, exist_ok=True)
    tag = burst_id.upper().replace("_", "-")
    written = []
    for k in range(len(src.dates)):
        start = times[k][0]
        stop = start + dt.timedelta(seconds=LINE_TIME_INTERVAL * (src.rows - 1))
        fname = f"OPERA_L2_CSLC-S1_{tag}_{start:%Y%m%dT%H%M%S}Z_{production}Z_S1A_VV_v{version}.h5"
        path = os.path.join(out_dir, fname)
        slc = src.read(k)
        zeros = np.zeros(slc.shape, dtype=np.float64)
        with h5py.File(path, "w") as f:
            _opera_root_attrs(f, "OPERA_L2_CSLC-S1 Product", "JPL-108278")
            _opera_grid(f, src, {"VV": (slc, {}), "azimuth_carrier_phase": (zeros, {}),
                                 "flattening_phase": (zeros, {})}, chunk_rows=203)
            _opera_identification(f, src, k, burst_id, lat, lon, "CSLC-S1", version, start, stop)
            meta = f.create_group("metadata")
            _opera_orbit(meta, src, k, model, times)
            burst = _opera_burst_metadata(meta, src, lat, lon, start, stop)
            proc = burst.parent
            alg = proc.create_group("algorithms")
            for name, value, description in (
                    ("COMPASS_version", "0.5.5", "COMPASS (CSLC-S1 processor) version used for processing"),
                    ("ISCE3_version", "0.15.1", "ISCE3 version used for processing"),
                    ("complex_data_geocoding_interpolator", "sinc interpolation",
                     "Complex data geocoding interpolation method"),
                    ("dem_interpolation", "biquintic", "DEM interpolation method"),
                    ("float_data_geocoding_interpolator", "biquintic interpolation",
                     "Floating-point data geocoding interpolation method"),
                    ("s1_reader_version", "0.2.4", "S1 reader version used for processing")):
                _h5_scalar(alg, name, value, description)
            par = proc.create_group("parameters")
            for name, value in (("azimuth_fm_rate_applied", True), ("azimuth_solid_earth_tides_applied", False),
                                ("bistatic_delay_applied", True), ("dry_troposphere_weather_model_applied", False),
                                ("ellipsoidal_flattening_applied", True), ("geometry_doppler_applied", True),
                                ("ionosphere_tec_applied", True), ("los_solid_earth_tides_applied", True),
                                ("static_troposphere_applied", True), ("topographic_flattening_applied", True),
                                ("wet_troposphere_weather_model_applied", False)):
                _h5_scalar(par, name, np.bool_(value), f"If True, {name.replace('_', ' ')}")
            qa = f.create_group("quality_assurance")
            _h5_scalar(qa.create_group("orbit_information"), "orbit_type", "precise orbit file",
                       "Type of orbit file used for processing. RESORB: restituted orbit ephemeris or POEORB: "
                       "precise orbit ephemeris")
            pix = qa.create_group("pixel_classification")
            _h5_scalar(pix, "percent_land_pixels", np.float64(100.0), "Percentage of output pixels labeled as land")
            _h5_scalar(pix, "percent_valid_pixels", np.float64(100.0), "Percentage of output pixels are valid")
        written.append(path)
    if static:
        k = ref
        start = times[k][0]
        stop = start + dt.timedelta(seconds=LINE_TIME_INTERVAL * (src.rows - 1))
        inc = src.incidence()
        le, ln, _lu = los_vector(inc, src.heading_deg)
        path = os.path.join(out_dir, f"OPERA_L2_CSLC-S1-STATIC_{tag}_20140403_S1A_v1.0.h5")
        with h5py.File(path, "w") as f:
            _opera_root_attrs(f, "OPERA_L2_CSLC-S1-STATIC Product", "JPL-108762")
            _opera_grid(f, src, {
                "layover_shadow_mask": (np.zeros(inc.shape, np.int8), {"description": _b(
                    "Layover shadow mask. 0=no layover, no shadow; 1=shadow; 2=layover; 3=shadow and layover.")}),
                "local_incidence_angle": (inc.astype(np.float32), {"description": "Local incidence angle in degrees"}),
                "los_east": (np.asarray(le, np.float32),
                             {"description": "East component of LOS unit vector from target to sensor"}),
                "los_north": (np.asarray(ln, np.float32),
                              {"description": "North component of LOS unit vector from target to sensor"})})
            _opera_identification(f, src, k, burst_id, lat, lon, "Static layers CSLC-S1", "1.0", start, stop)
            meta = f.create_group("metadata")
            _opera_orbit(meta, src, k, model, times)
            _opera_burst_metadata(meta, src, lat, lon, start, stop)
        written.append(path)
    return written


# ------------------------------------------------------------------------------------------------ multi-band
def write_multiband(stack_folder, out_path):
    """One raster with one complex band per date (description ``YYYYMMDD``), ``baselines.csv``/``stack.json``
    beside it.  ``.vrt`` → a VRT referencing the source GeoTIFFs (relative paths); anything else → a GeoTIFF."""
    from osgeo import gdal

    gdal.UseExceptions()
    src = read_source_stack(stack_folder)
    out_path = os.fspath(out_path)
    out_dir = os.path.dirname(os.path.abspath(out_path))
    os.makedirs(out_dir, exist_ok=True)
    if out_path.lower().endswith(".vrt"):
        ds = gdal.BuildVRT(out_path, [os.path.abspath(p) for p in src.paths], separate=True)
        for k, d in enumerate(src.date_strings):
            ds.GetRasterBand(k + 1).SetDescription(d)
        ds = None
        # GDAL writes absolute paths for sources outside the VRT's folder; make them relative where possible.
        with open(out_path, encoding="utf-8") as fh:
            text = fh.read()
        for p in src.paths:
            relp = os.path.relpath(os.path.abspath(p), out_dir)
            text = text.replace(f'relativeToVRT="0">{os.path.abspath(p)}<', f'relativeToVRT="1">{relp}<')
        with open(out_path, "w", encoding="utf-8") as fh:
            fh.write(text)
    else:
        first = gdal.Open(src.paths[0])
        drv = gdal.GetDriverByName("GTiff")
        ds = drv.Create(out_path, src.cols, src.rows, len(src.dates), gdal.GDT_CFloat32,
                        options=["INTERLEAVE=BAND", "TILED=YES", "COMPRESS=DEFLATE"])
        ds.SetGeoTransform(first.GetGeoTransform())
        ds.SetProjection(first.GetProjection())
        first = None
        for k, d in enumerate(src.date_strings):
            band = ds.GetRasterBand(k + 1)
            band.WriteArray(src.read(k))
            band.SetDescription(d)
        ds = None
    for name in ("baselines.csv", "stack.json"):
        s = os.path.join(src.folder, name)
        t = os.path.join(out_dir, name)
        if os.path.exists(s) and os.path.abspath(s) != os.path.abspath(t):
            shutil.copyfile(s, t)
    return out_path
