"""egms:simulatestack — write a synthetic Sentinel-1 SLC stack with ground truth."""

from __future__ import annotations

from qgis.core import (
    QgsProcessingOutputNumber,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFolderDestination,
    QgsProcessingParameterNumber,
    QgsProcessingParameterString,
)

from .base import EgmsAlgorithm

ORBITS = ("ascending", "descending")


class SimulateStackAlgorithm(EgmsAlgorithm):
    alg_name = "simulatestack"
    display = "Simulate SLC stack"
    group_name = "SAR stack"
    group_key = "sarstack"
    help_text = (
        "Writes a synthetic, coregistered Sentinel-1 SLC stack with ground truth, in the stack-folder "
        "layout the other SAR algorithms read: one complex GeoTIFF (CFloat32) per acquisition named "
        "YYYYMMDD.tif in a projected CRS (EPSG:32632), baselines.csv (perpendicular baselines, m), "
        "stack.json (wavelength, incidence, heading, slant range, orbit) and a truth/ folder.\n\n"
        "The scene holds persistent scatterers (bright, stable amplitude) among decorrelating speckle, a "
        "subsidence bowl, an uplift area, an accelerating sliding slope, seasonal motion and stable ground, "
        "height errors at the scatterers, a turbulent atmospheric delay that changes every date and thermal "
        "noise, on irregular 6/12-day dates with gaps.\n\n"
        "Truth: truth/velocity.tif (LOS mm/yr, positive towards the satellite), truth/height_error.tif (m), "
        "truth/ps_mask.tif, truth/displacement.tif (LOS mm per date, one band per date, relative to the "
        "first date), truth/atmosphere.tif and truth/simulation.json.\n\n"
        "Distributed scatterers (advanced, DS_AREAS > 0): circular areas of circular-Gaussian scattering (fields, "
        "slopes) whose coherence decays as γ(Δt) = γ∞ + (1 − γ∞)·exp(−Δt/τ), with the same motion and "
        "atmosphere; their pixels are in truth/ds_mask.tif. The same parameters and seed give the "
        "same files. The output folder must be new or empty."
    )

    OUTPUT_FOLDER = "OUTPUT_FOLDER"

    def initAlgorithm(self, config=None):  # noqa: N802, ARG002 (QGIS API)
        num = QgsProcessingParameterNumber
        self.add_parameter(num("WIDTH", self.tr("Width (pixels)"), num.Integer, 400, minValue=8, maxValue=20000),
                           "Number of columns (range pixels) of every SLC. Size matters: the simulation needs about "
                           "160 B of memory per pixel (5000 × 5000: 4 GB) and 16 B of disk per pixel and acquisition; "
                           "a stack that does not fit is refused before anything is written.")
        self.add_parameter(num("HEIGHT", self.tr("Height (pixels)"), num.Integer, 400, minValue=8, maxValue=20000),
                           "Number of rows (azimuth lines) of every SLC.")
        self.add_parameter(num("N_DATES", self.tr("Number of acquisitions"), num.Integer, 60, minValue=3, maxValue=1000),
                           "Acquisitions, 6 or 12 days apart with occasional gaps. 20 or more make the amplitude "
                           "statistics meaningful; 60 span about two years.")
        self.add_parameter(QgsProcessingParameterString("START_DATE", self.tr("First acquisition (YYYYMMDD)"), "20190106"),
                           "Date of the first acquisition.")
        self.add_parameter(num("PS_DENSITY", self.tr("Scatterer density (fraction of pixels)"), num.Double, 0.03,
                               minValue=0.0001, maxValue=0.5),
                           "Fraction of pixels that are persistent scatterers.")
        self.add_parameter(num("ATMOSPHERE_MM", self.tr("Atmospheric delay std (mm)"), num.Double, 3.0, minValue=0.0),
                           "Standard deviation over the scene of the turbulent atmospheric delay, drawn anew for "
                           "every date (LOS mm).")
        self.add_parameter(QgsProcessingParameterEnum("ORBIT", self.tr("Orbit"), options=list(ORBITS), defaultValue=0),
                           "Ascending (heading −10°) or descending (heading 190°) geometry.")
        self.add_parameter(num("SEED", self.tr("Random seed"), num.Integer, 0, minValue=0),
                           "Same seed and parameters ⇒ same files.")
        self.add_parameter(num("PIXEL_SIZE", self.tr("Pixel size (m)"), num.Double, 20.0, minValue=1.0),
                           "Ground size of a pixel in the output CRS (EPSG:32632).", advanced=True)
        self.add_parameter(num("INCIDENCE_ANGLE", self.tr("Incidence angle (degrees)"), num.Double, 39.0,
                               minValue=1.0, maxValue=89.0), "Radar incidence angle.", advanced=True)
        self.add_parameter(num("THERMAL_NOISE", self.tr("Thermal noise (relative to clutter)"), num.Double, 0.1,
                               minValue=0.0), "Standard deviation of thermal noise relative to the clutter.", advanced=True)
        self.add_parameter(num("HEIGHT_ERROR_MAX", self.tr("Maximum height error (m)"), num.Double, 20.0, minValue=0.0),
                           "Scatterer height errors are uniform in ± this value.", advanced=True)
        self.add_parameter(num("BPERP_MAX", self.tr("Maximum perpendicular baseline (m)"), num.Double, 150.0,
                               minValue=0.0), "Perpendicular baselines are uniform in ± this value.", advanced=True)
        self.add_parameter(num("DEFORMATION_SCALE", self.tr("Deformation scale"), num.Double, 1.0, minValue=0.0),
                           "Multiplies every deformation signal; 0 gives stable ground everywhere.", advanced=True)
        self.add_parameter(num("FAST_PATCH_VELOCITY", self.tr("Fast patch velocity (LOS mm/yr)"), num.Double, 0.0),
                           "Adds a small patch at the scene centre moving at this LOS velocity (0 = none); above "
                           "about 400 mm/yr it exceeds the λ/4-per-revisit unwrapping limit.", advanced=True)
        self.add_parameter(QgsProcessingParameterBoolean("NOISE_FREE", self.tr("Noise-free scatterers"), False),
                           "Write scatterers without clutter or thermal noise (for checking conventions).",
                           advanced=True)
        self.add_parameter(num("DS_AREAS", self.tr("Distributed-scatterer areas"), num.Integer, 0, minValue=0,
                               maxValue=1000),
                           "Number of circular areas of distributed scatterers (0 = none; the stack is then the same "
                           "as without these parameters). Their pixels are written to truth/ds_mask.tif.",
                           advanced=True)
        self.add_parameter(num("DS_RADIUS", self.tr("DS area radius (m)"), num.Double, 400.0, minValue=1.0),
                           "Radius of every distributed-scatterer area.", advanced=True)
        self.add_parameter(num("DS_GAMMA_INF", self.tr("DS long-term coherence γ∞"), num.Double, 0.3, minValue=0.0,
                               maxValue=1.0),
                           "Coherence the DS areas keep at long time spans: γ(Δt) = γ∞ + (1 − γ∞)·exp(−Δt/τ).",
                           advanced=True)
        self.add_parameter(num("DS_TAU_DAYS", self.tr("DS decorrelation time τ (days)"), num.Double, 45.0,
                               minValue=0.1),
                           "How fast the DS areas' coherence decays towards γ∞ (days).", advanced=True)
        self.add_parameter(num("DS_BRIGHTNESS", self.tr("DS brightness (relative to clutter)"), num.Double, 1.5,
                               minValue=0.01),
                           "Amplitude of the DS backscatter relative to the clutter's.", advanced=True)
        self.add_parameter(QgsProcessingParameterFolderDestination(self.OUTPUT_FOLDER, self.tr("Output stack folder")),
                           "New or empty folder for the stack: one YYYYMMDD.tif per acquisition, baselines.csv, "
                           "stack.json and truth/. Written as a whole at the end; nothing is left if the run fails or "
                           "is cancelled.")
        self.addOutput(QgsProcessingOutputNumber("N_SCATTERERS", self.tr("Number of scatterers")))
        self.addOutput(QgsProcessingOutputNumber("N_DATES_WRITTEN", self.tr("Number of acquisitions written")))

    def compute(self, parameters, context, feedback, progress):
        from ..core.sar.simulate import SimulationParameters, simulate_stack

        p = SimulationParameters(
            rows=self.parameterAsInt(parameters, "HEIGHT", context),
            cols=self.parameterAsInt(parameters, "WIDTH", context),
            n_dates=self.parameterAsInt(parameters, "N_DATES", context),
            start_date=self.parameterAsString(parameters, "START_DATE", context).strip(),
            ps_density=self.parameterAsDouble(parameters, "PS_DENSITY", context),
            atmosphere_mm=self.parameterAsDouble(parameters, "ATMOSPHERE_MM", context),
            orbit=ORBITS[self.parameterAsEnum(parameters, "ORBIT", context)],
            seed=self.parameterAsInt(parameters, "SEED", context),
            pixel_size_m=self.parameterAsDouble(parameters, "PIXEL_SIZE", context),
            incidence_deg=self.parameterAsDouble(parameters, "INCIDENCE_ANGLE", context),
            thermal_noise=self.parameterAsDouble(parameters, "THERMAL_NOISE", context),
            height_error_max_m=self.parameterAsDouble(parameters, "HEIGHT_ERROR_MAX", context),
            bperp_max_m=self.parameterAsDouble(parameters, "BPERP_MAX", context),
            deformation_scale=self.parameterAsDouble(parameters, "DEFORMATION_SCALE", context),
            fast_patch_velocity=self.parameterAsDouble(parameters, "FAST_PATCH_VELOCITY", context),
            noise_free=self.parameterAsBool(parameters, "NOISE_FREE", context),
            ds_areas=self.parameterAsInt(parameters, "DS_AREAS", context),
            ds_radius_m=self.parameterAsDouble(parameters, "DS_RADIUS", context),
            ds_gamma_inf=self.parameterAsDouble(parameters, "DS_GAMMA_INF", context),
            ds_tau_days=self.parameterAsDouble(parameters, "DS_TAU_DAYS", context),
            ds_brightness=self.parameterAsDouble(parameters, "DS_BRIGHTNESS", context),
        )
        folder = self.writable_output(self.OUTPUT_FOLDER, self.parameterAsString(parameters, self.OUTPUT_FOLDER, context),
                                      folder=True)
        self.partial_output(folder)  # a cancel that arrives as the last file is written removes the stack too
        feedback.pushInfo(f"Simulating {p.n_dates} acquisitions of {p.cols} × {p.rows} pixels into {folder}")
        info = simulate_stack(folder, p, progress)
        feedback.pushInfo(
            f"Wrote {len(info['dates'])} SLCs ({info['dates'][0]} … {info['dates'][-1]}), "
            f"{info['n_scatterers']} scatterers, {info['n_ds_pixels']} distributed-scatterer pixels, baselines.csv, "
            "stack.json and truth/."
        )
        return {self.OUTPUT_FOLDER: folder, "N_SCATTERERS": info["n_scatterers"],
                "N_DATES_WRITTEN": len(info["dates"])}


ALGORITHM = SimulateStackAlgorithm
REQUIRES = ("numpy", "scipy", "rasterio")
