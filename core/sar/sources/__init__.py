"""Stack sources: the layouts real processors write, read through one interface (README "Stack layouts").

:func:`open_stack` recognises the layout of ``INPUT`` (a folder or a file) and returns a stack with the
:class:`~egms_plugin.core.sar.stack.StackFolder` interface (dates, ``bperp``, ``geometry``, ``shape``,
``crs``/``transform``, ``read_block`` in row blocks, ``lonlat``, ``incidence_at``, ``describe``):

==========================================  ==============================================  =================
INPUT                                       layout                                          module
==========================================  ==============================================  =================
``<name>.dim`` or ``<name>.data/``          SNAP BEAM-DIMAP coregistered stack              :mod:`.snap`
ISCE2 work folder or its ``merged/``        ISCE2 topsStack / stripmapStack                 :mod:`.isce2`
folder of ``OPERA_L2_CSLC-S1_*.h5``         NASA OPERA CSLC-S1 bursts                       :mod:`.opera`
``.tif``/``.vrt`` file                      one complex band per date                       :mod:`.multiband`
folder of dated single-band SLC rasters     the plain stack folder (unchanged)              ``..stack``
==========================================  ==============================================  =================
"""

from __future__ import annotations

import glob
import os

from ...errors import InputError

__all__ = ["open_stack", "detect_layout"]


def _dims_with_data(folder):
    return [d for d in glob.glob(os.path.join(glob.escape(folder), "*.dim")) if os.path.isdir(d[:-4] + ".data")]


def detect_layout(path):
    """``"snap"``, ``"isce2"``, ``"opera"``, ``"multiband"`` or ``"folder"`` for ``path``; InputError otherwise."""
    from .isce2 import looks_like_work_folder, merged_folder
    from .multiband import RASTER_SUFFIXES

    path = os.path.abspath(os.fspath(path))
    low = path.lower()
    if not os.path.exists(path):
        raise InputError(f"{path}: not a folder or a stack file (no such path).")
    if os.path.isfile(path):
        if low.endswith(".dim"):
            return "snap"
        if low.endswith((".h5", ".hdf5")):
            return "opera"
        if low.endswith(RASTER_SUFFIXES):
            return "multiband"
        raise InputError(f"{path}: not a stack — give a SNAP .dim, a multi-band .tif/.vrt, or a folder "
                         "(plain stack folder, ISCE2 work folder, folder of OPERA CSLC-S1 .h5 files).")
    if low.endswith(".data") and os.path.isfile(path[:-5] + ".dim"):
        return "snap"
    if low.endswith(".data") and glob.glob(os.path.join(glob.escape(path), "[iq]_*.hdr")):
        return "snap"
    if len(_dims_with_data(path)) == 1:
        return "snap"
    if merged_folder(path) is not None or looks_like_work_folder(path):
        return "isce2"
    if glob.glob(os.path.join(glob.escape(path), "OPERA_L2_CSLC-S1_*.h5")):
        return "opera"
    return "folder"


def open_stack(path, *, polarisation="VV", burst=None, wavelength_m=None, incidence_deg=None, heading_deg=None,
               slant_range_m=None, orbit=None):
    """The stack at ``path`` in whichever layout it is (see the module table).

    ``polarisation`` chooses the bands of a SNAP or OPERA stack; ``burst`` one burst of an OPERA folder holding
    several; the geometry keywords override what the layout gives (None keeps it).
    """
    overrides = {"wavelength_m": wavelength_m, "incidence_deg": incidence_deg, "heading_deg": heading_deg,
                 "slant_range_m": slant_range_m, "orbit": orbit}
    layout = detect_layout(path)
    if layout == "snap":
        from .snap import open_snap

        if os.path.isdir(path) and not os.fspath(path).lower().endswith(".data"):
            path = _dims_with_data(os.path.abspath(os.fspath(path)))[0]  # the folder holding one .dim
        return open_snap(path, polarisation=polarisation, overrides=overrides)
    if layout == "isce2":
        from .isce2 import open_isce2

        return open_isce2(path, overrides=overrides)
    if layout == "multiband":
        from .multiband import open_multiband

        return open_multiband(path, overrides=overrides)
    if layout == "opera":
        from .opera import open_opera

        return open_opera(path, polarisation=polarisation, burst=burst, overrides=overrides)
    from ..stack import StackFolder

    return StackFolder(path, **overrides)
